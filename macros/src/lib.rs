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

/// Declares an eval: a function that returns a case (`CodeCase`,
/// `TextCase`) for the runner to prompt and score, or — taking
/// `&mut EvalContext` as its first parameter — calls the model itself and
/// returns a score (`Score`, `f64` on 0–100, `bool`, or a `Result` of one).
///
/// ```ignore
/// use litmus::prelude::*;
///
/// #[eval(tags = ["geography"], samples = 3, min_score = 60)]
/// #[case::france("France", "Paris")]
/// #[case::japan("Japan", "Tokyo")]
/// fn capital(country: &str, city: &str) -> TextCase {
///     TextCase::new(format!("What is the capital of {country}?"))
///         .reference(city)
///         .metric(Metric::contains())
/// }
///
/// #[eval(timeout = "30s", ignore = "needs a bigger model")]
/// fn remembers(ctx: &mut EvalContext) -> Result<Score, EvalError> {
///     let answer = ctx.ask("Reply with the word: litmus")?;
///     Ok(Score::pass_if(answer.contains("litmus")))
/// }
/// ```
///
/// # Options
///
/// | option | meaning |
/// | --- | --- |
/// | `name = "..."` | the eval's name instead of the function's (letters, digits, `_`, `-`) |
/// | `tags = ["a", "b"]` | for `--tag` and `[run] tags` |
/// | `samples = N` | samples per configuration, 1 to 100000; the eval's own count, which `--samples` and `[run] samples` do not override |
/// | `timeout = "30s"` | the sandbox budget of each phase of a code answer (load, examples, tests), or an imperative eval's time; `"500ms"`, `"2m"`, `"1h"` or seconds; 1 s to 24 h; default 10 s |
/// | `ignore`, `ignore = "reason"` | not run unless `--ignored` or `--include-ignored`; a run names it, with its reason |
/// | `min_score = 60` | points out of 100 below which the eval fails in CI (`cargo eval` exits 1) |
/// | `crate = path` | where `litmus` is, for crates that rename it |
///
/// # Cases
///
/// Each `#[case(args)]` or `#[case::description(args)]` supplies the
/// parameters (after the context, for an imperative eval) and registers one
/// eval, named `function::case_N` or `function::case_N_description`, N
/// counted from 1 in source order. Names are the keys of stored results
/// (`--resume`, `cargo eval report --compare`): add new cases at the end to
/// keep the others' names.
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
    ignore_reason: Option<LitStr>,
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
                        opts.ignore_reason = Some(value(
                            input,
                            "`ignore` takes no value, or a reason: `ignore = \"needs a GPU\"`",
                        )?);
                    }
                }
                "crate" => {
                    input.parse::<Token![=]>()?;
                    opts.krate = Some(value(input, "`crate` takes a path: `crate = ::litmus`")?);
                }
                "name" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = value(input, "`name` takes a string: `name = \"my_eval\"`")?;
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
                    if !input.peek(syn::token::Bracket) {
                        return Err(input.error(
                            "`tags` takes a list of strings: `tags = [\"python\", \"easy\"]`",
                        ));
                    }
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
                    if input.peek(Token![-]) {
                        return Err(input.error("`samples` must be at least 1"));
                    }
                    let lit: LitInt =
                        value(input, "`samples` takes a whole number: `samples = 5`")?;
                    let n: u32 = lit.base10_parse().map_err(|_| {
                        syn::Error::new(
                            lit.span(),
                            format!("`samples` must be a whole number from 1 to {MAX_SAMPLES}"),
                        )
                    })?;
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
                        let lit: LitInt = value(
                            input,
                            "`timeout` takes a duration: `timeout = \"30s\"` (or seconds: `timeout = 30`)",
                        )?;
                        (lit.base10_parse().unwrap_or(u64::MAX), lit.span())
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
                    check_min_score(&expr)?;
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

/// The most samples an eval may ask for (each is a generation and a score).
const MAX_SAMPLES: u32 = 100_000;
/// The longest `timeout` (24 h).
const MAX_TIMEOUT_SECS: u64 = 24 * 3600;

/// The option's value parsed as `T`, or `message` at the value.
fn value<T: Parse>(input: ParseStream, message: &str) -> syn::Result<T> {
    let fork = input.fork();
    match fork.parse::<T>() {
        Ok(_) => input.parse(),
        Err(_) => Err(input.error(message)),
    }
}

/// A literal `min_score` on 0–100; a fraction such as `0.6` is almost
/// certainly meant as 60 (scores are points out of 100, not fractions).
/// Other expressions are checked when the run is planned.
fn check_min_score(expr: &Expr) -> syn::Result<()> {
    let (negative, lit) = match expr {
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => (true, &*u.expr),
        e => (false, e),
    };
    let Expr::Lit(syn::ExprLit { lit, .. }) = lit else {
        return Ok(());
    };
    let v = match lit {
        syn::Lit::Int(i) => i.base10_parse::<f64>()?,
        syn::Lit::Float(f) => f.base10_parse::<f64>()?,
        _ => {
            return Err(syn::Error::new(
                lit.span(),
                "`min_score` takes a number of points from 0 to 100: `min_score = 60`",
            ))
        }
    };
    let v = if negative { -v } else { v };
    if !(0.0..=100.0).contains(&v) {
        return Err(syn::Error::new(
            expr.span(),
            "`min_score` must be between 0 and 100 (points out of 100)",
        ));
    }
    if v > 0.0 && v <= 1.0 {
        return Err(syn::Error::new(
            expr.span(),
            format!(
                "`min_score` is in points out of 100, not a fraction: write `min_score = {}`",
                (v * 1e4).round() / 100.0
            ),
        ));
    }
    Ok(())
}

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

/// For a parameter typed as the eval context (a path ending in
/// `EvalContext`): `Some(true)` taken as `&mut`, `Some(false)` any other way;
/// `None` for any other parameter.
fn context_param(arg: &FnArg) -> Option<bool> {
    let FnArg::Typed(pat) = arg else {
        return None;
    };
    let (by_mut_ref, ty) = match &*pat.ty {
        Type::Reference(r) => (r.mutability.is_some(), &*r.elem),
        ty => (false, ty),
    };
    match ty {
        Type::Path(p)
            if p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "EvalContext") =>
        {
            Some(by_mut_ref)
        }
        _ => None,
    }
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

    // A first `&mut EvalContext` parameter is the eval context: the eval
    // is imperative. The context taken any other way, or later, is an error
    // here rather than a type mismatch in code the user did not write.
    let mut inputs = sig.inputs.iter();
    let imperative = sig
        .inputs
        .first()
        .is_some_and(|a| context_param(a) == Some(true));
    if imperative {
        inputs.next();
    }
    let params: Vec<_> = inputs.collect();
    for p in &params {
        if let Some(by_mut_ref) = context_param(p) {
            return Err(syn::Error::new(
                p.span(),
                if by_mut_ref {
                    "the eval context must be the first parameter"
                } else {
                    "take the eval context as `&mut EvalContext` (the first parameter)"
                },
            ));
        }
    }

    if cases.is_empty() && !params.is_empty() {
        return Err(syn::Error::new(
            params[0].span(),
            "an eval with parameters needs `#[case(...)]` attributes that supply them \
             (an imperative eval takes `&mut EvalContext` first)",
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
    let ignore_reason = opts
        .ignore_reason
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_default();

    // (case name, argument expressions)
    let variants: Vec<(Option<String>, Vec<Expr>)> = if cases.is_empty() {
        vec![(None, Vec::new())]
    } else {
        // `case_N` numbered from 1, not zero-padded as rstest pads them: a
        // case name is the key of stored results (`--resume`, `report
        // --compare`), so adding a tenth case must not rename the first nine.
        cases
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut n = format!("case_{}", i + 1);
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
    // The returned value, named at the return type: a type that is no case
    // or score is reported there, not at `#[eval]`.
    let out = Ident::new("__litmus_out", ret_span);
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
                        let #out = #fn_ident(__litmus_ctx, #(#args),*);
                        #into_score(#out)
                    }
                },
                quote!(#krate::__private::EntryKind::Imperative(#wrapper)),
            )
        } else {
            (
                quote! {
                    fn #wrapper() -> #krate::__private::Case {
                        let #out = #fn_ident(#(#args),*);
                        #into_case(#out)
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
                    ignore_reason: #ignore_reason,
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
