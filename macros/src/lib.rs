//! The `#[eval]` attribute of litmus. Use it through the `litmus` crate: this
//! crate only turns the attribute into a registration and keeps no logic of
//! its own; everything else lives in `litmus-core`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, Ident, ItemFn, LitInt, LitStr, Path, Token, Type};

/// Declares an eval. See the `litmus` crate documentation.
#[proc_macro_attribute]
pub fn eval(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr.into(), item.into()) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[derive(Default)]
struct Options {
    krate: Option<Path>,
    name: Option<LitStr>,
    tags: Vec<LitStr>,
    samples: Option<LitInt>,
    timeout: Option<(u64, Span)>,
    ignore: bool,
    min_score: Option<Expr>,
    seen: Vec<String>,
}

impl Options {
    fn mark(&mut self, key: &Ident) -> syn::Result<()> {
        let k = key.to_string();
        if self.seen.contains(&k) {
            return Err(syn::Error::new(
                key.span(),
                format!("duplicate option `{k}`"),
            ));
        }
        self.seen.push(k);
        Ok(())
    }
}

impl Parse for Options {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut opts = Options::default();
        while !input.is_empty() {
            let key: Ident = if input.peek(Token![crate]) {
                let kw: Token![crate] = input.parse()?;
                Ident::new("crate", kw.span)
            } else {
                input.parse()?
            };
            opts.mark(&key)?;
            match key.to_string().as_str() {
                "ignore" => {
                    opts.ignore = true;
                    if input.peek(Token![=]) {
                        input.parse::<Token![=]>()?;
                        // `ignore = "reason"`: the reason is documentation only.
                        input.parse::<LitStr>()?;
                    }
                }
                "crate" => {
                    input.parse::<Token![=]>()?;
                    opts.krate = Some(input.parse()?);
                }
                "name" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    let v = lit.value();
                    if v.is_empty()
                        || !v.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-')
                    {
                        return Err(syn::Error::new(
                            lit.span(),
                            "an eval name may hold only letters, digits, `_` and `-`",
                        ));
                    }
                    opts.name = Some(lit);
                }
                "tags" => {
                    input.parse::<Token![=]>()?;
                    let content;
                    syn::bracketed!(content in input);
                    let tags = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                    for tag in tags {
                        let v = tag.value();
                        if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == ',') {
                            return Err(syn::Error::new(
                                tag.span(),
                                "a tag must be non-empty, without spaces or commas",
                            ));
                        }
                        opts.tags.push(tag);
                    }
                }
                "samples" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitInt = input.parse()?;
                    let n: u32 = lit.base10_parse()?;
                    if n == 0 {
                        return Err(syn::Error::new(lit.span(), "`samples` must be at least 1"));
                    }
                    if n > MAX_SAMPLES {
                        return Err(syn::Error::new(
                            lit.span(),
                            format!("`samples` must be at most {MAX_SAMPLES}"),
                        ));
                    }
                    opts.samples = Some(lit);
                }
                "timeout" => {
                    input.parse::<Token![=]>()?;
                    let (secs, span) = if input.peek(LitStr) {
                        let lit: LitStr = input.parse()?;
                        let secs = parse_duration(&lit.value()).ok_or_else(|| {
                            syn::Error::new(
                                lit.span(),
                                "expected a duration such as \"30s\", \"2m\" or \"500ms\"",
                            )
                        })?;
                        (secs, lit.span())
                    } else {
                        let lit: LitInt = input.parse()?;
                        (lit.base10_parse()?, lit.span())
                    };
                    if secs == 0 || secs > MAX_TIMEOUT_SECS {
                        return Err(syn::Error::new(
                            span,
                            "`timeout` must be between 1 s and 24 h (\"1s\" to \"24h\")",
                        ));
                    }
                    opts.timeout = Some((secs, span));
                }
                "min_score" => {
                    input.parse::<Token![=]>()?;
                    let expr: Expr = input.parse()?;
                    opts.min_score = Some(expr);
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{other}`; expected one of: name, tags, samples, timeout, ignore, min_score, crate"
                        ),
                    ))
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(opts)
    }
}

/// Seconds in "30s", "2m", "500ms" (rounded up), "1h".
/// The most samples an eval may ask for (each is a generation and a score).
const MAX_SAMPLES: u32 = 100_000;
/// The longest `timeout` (24 h).
const MAX_TIMEOUT_SECS: u64 = 24 * 3600;

/// Seconds of `"30s"`, `"2m"`, `"1h"`, `"500ms"` (rounded up to a second;
/// `"0ms"` is 0); `u64::MAX` where the number overflows.
fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().unwrap_or(u64::MAX);
    match unit.trim() {
        "ms" => Some(n.div_ceil(1000)),
        "s" => Some(n),
        "m" | "min" => Some(n.saturating_mul(60)),
        "h" => Some(n.saturating_mul(3600)),
        _ => None,
    }
}

/// One `#[case(...)]` / `#[case::description(...)]`.
struct Case {
    description: Option<Ident>,
    args: Vec<Expr>,
    tokens: TokenStream2,
}

fn take_cases(attrs: &mut Vec<Attribute>) -> syn::Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        let path = attr.path();
        let is_case = path.segments.first().is_some_and(|s| s.ident == "case");
        if !is_case {
            kept.push(attr);
            continue;
        }
        if path.segments.len() > 2 {
            return Err(syn::Error::new(
                path.span(),
                "expected `#[case(...)]` or `#[case::description(...)]`",
            ));
        }
        let description = path.segments.iter().nth(1).map(|s| s.ident.clone());
        let args = match &attr.meta {
            syn::Meta::List(list) => list
                .parse_args_with(Punctuated::<Expr, Token![,]>::parse_terminated)?
                .into_iter()
                .collect(),
            syn::Meta::Path(_) => Vec::new(),
            syn::Meta::NameValue(nv) => {
                return Err(syn::Error::new(nv.span(), "expected `#[case(arg, ...)]`"))
            }
        };
        cases.push(Case {
            description,
            args,
            tokens: quote!(#attr),
        });
    }
    *attrs = kept;
    Ok(cases)
}

fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let opts: Options = syn::parse2(attr)?;
    let mut func: ItemFn = syn::parse2(item)?;
    let cases = take_cases(&mut func.attrs)?;
    let sig = &func.sig;
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            "an eval cannot be `async`; call the model through the `EvalContext` argument instead",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "an eval cannot be generic",
        ));
    }
    if let Some(recv) = sig.receiver() {
        return Err(syn::Error::new(
            recv.span(),
            "an eval must be a free function",
        ));
    }
    if matches!(sig.output, syn::ReturnType::Default) {
        return Err(syn::Error::new(
            sig.ident.span(),
            "an eval must return a case (`CodeCase`, `TextCase`) or, taking `&mut EvalContext`, a score",
        ));
    }

    let krate: Path = opts
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::litmus));
    let ret_span = match &sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => sig.ident.span(),
    };
    let fn_ident = &sig.ident;

    // The first `&mut T` argument is the eval context: the eval is imperative.
    let mut inputs = sig.inputs.iter();
    let imperative = match sig.inputs.first() {
        Some(FnArg::Typed(pat)) => matches!(&*pat.ty, Type::Reference(r) if r.mutability.is_some()),
        _ => false,
    };
    if imperative {
        inputs.next();
    }
    let params: Vec<_> = inputs.collect();

    if cases.is_empty() && !params.is_empty() {
        return Err(syn::Error::new(
            params[0].span(),
            "an eval with parameters needs `#[case(...)]` attributes that supply them",
        ));
    }
    for case in &cases {
        if case.args.len() != params.len() {
            return Err(syn::Error::new_spanned(
                &case.tokens,
                format!(
                    "this case gives {} argument{} but `{}` takes {}",
                    case.args.len(),
                    if case.args.len() == 1 { "" } else { "s" },
                    fn_ident,
                    params.len()
                ),
            ));
        }
    }

    let name = opts.name.as_ref().map(LitStr::value).unwrap_or_else(|| {
        let s = fn_ident.to_string();
        s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
    });
    let tags = &opts.tags;
    let samples = match &opts.samples {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let timeout = match &opts.timeout {
        Some((secs, span)) => quote_spanned!(*span=> ::core::option::Option::Some(#secs)),
        None => quote!(::core::option::Option::None),
    };
    let min_score = match &opts.min_score {
        Some(expr) => quote_spanned!(expr.span()=> ::core::option::Option::Some((#expr) as f64)),
        None => quote!(::core::option::Option::None),
    };
    let ignore = opts.ignore;

    // (case name, argument expressions)
    let variants: Vec<(Option<String>, Vec<Expr>)> = if cases.is_empty() {
        vec![(None, Vec::new())]
    } else {
        let width = cases.len().to_string().len();
        cases
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut n = format!("case_{:0width$}", i + 1, width = width);
                if let Some(d) = &c.description {
                    n.push('_');
                    n.push_str(&d.to_string());
                }
                (Some(n), c.args.clone())
            })
            .collect()
    };

    // An imperative eval's behaviour is its code: the tokens of its
    // signature and body (not its comments, doc comments included) go into
    // the registration, for `--resume` to see edits.
    let block = &func.block;
    let source = imperative.then(|| quote!(#sig #block).to_string());
    let into_case = quote_spanned!(ret_span=> #krate::__private::IntoCase::into_case);
    let into_score = quote_spanned!(ret_span=> #krate::__private::IntoScore::into_score);
    let mut registrations = TokenStream2::new();
    for (i, (case_name, args)) in variants.iter().enumerate() {
        let wrapper = format_ident!("__litmus_eval_{}", i);
        let case_lit = match case_name {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        let code = source
            .as_ref()
            .map(|s| format!("{s}\n{}", quote!(#(#args),*)))
            .unwrap_or_default();
        let (wrapper_fn, kind) = if imperative {
            (
                quote! {
                    fn #wrapper(__litmus_ctx: &mut #krate::__private::EvalContext<'_>) -> #krate::__private::ScoreResult {
                        #into_score(#fn_ident(__litmus_ctx, #(#args),*))
                    }
                },
                quote!(#krate::__private::EntryKind::Imperative(#wrapper)),
            )
        } else {
            (
                quote! {
                    fn #wrapper() -> #krate::__private::Case {
                        #into_case(#fn_ident(#(#args),*))
                    }
                },
                quote!(#krate::__private::EntryKind::Declarative(#wrapper)),
            )
        };
        registrations.extend(quote! {
            #wrapper_fn
            #krate::__private::inventory::submit! {
                #krate::__private::EvalEntry {
                    name: #name,
                    case: #case_lit,
                    module_path: ::core::module_path!(),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    tags: &[#(#tags),*],
                    samples: #samples,
                    timeout_secs: #timeout,
                    ignore: #ignore,
                    min_score: #min_score,
                    kind: #kind,
                    code: #code,
                }
            }
        });
    }

    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(non_snake_case)]
        const _: () = {
            #registrations
        };
    })
}
