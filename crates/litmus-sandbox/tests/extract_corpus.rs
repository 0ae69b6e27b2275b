//! Extraction on a corpus of messy, realistic answers: one test case per
//! answer, named after what makes it messy.

use litmus_sandbox::{extract_code, Language};
use rstest::rstest;

const PY: Language = Language::Python;

#[rstest]
#[case::plain_python_fence(PY, None, "Sure! Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nThis adds two numbers.", "def add(a, b):\n    return a + b")]
#[case::capitalised_tag(
    PY,
    None,
    "```Python\ndef add(a, b):\n    return a + b\n```",
    "def add(a, b):\n    return a + b"
)]
#[case::space_before_tag(
    PY,
    None,
    "``` python\ndef add(a, b):\n    return a + b\n```",
    "def add(a, b):\n    return a + b"
)]
#[case::versioned_tag(PY, None, "```python3.11\nx = 1\n```", "x = 1")]
#[case::tag_with_trailing_text(
    PY,
    None,
    "```py title=\"solution.py\" # the answer\ndef f():\n    return 1\n```",
    "def f():\n    return 1"
)]
#[case::unclosed_final_fence(
    PY,
    None,
    "Here you go:\n```python\ndef f(x):\n    return x * 2\n",
    "def f(x):\n    return x * 2"
)]
#[case::tilde_fences(PY, None, "~~~python\nprint('hi')\n~~~", "print('hi')")]
#[case::untagged_fence_with_code(
    PY,
    None,
    "The solution:\n```\ndef f(x):\n    return x + 1\n```",
    "def f(x):\n    return x + 1"
)]
#[case::several_python_blocks_joined_in_order(PY, None, "First a helper:\n```python\ndef helper(x):\n    return x + 1\n```\nThen the main function:\n```python\ndef main(x):\n    return helper(x) * 2\n```", "def helper(x):\n    return x + 1\n\ndef main(x):\n    return helper(x) * 2")]
#[case::output_block_tagged_text_is_ignored(
    PY,
    None,
    "```python\nprint(reverse('ab'))\n```\nOutput:\n```text\nba\n```",
    "print(reverse('ab'))"
)]
#[case::untagged_output_after_a_tagged_block_is_ignored(
    PY,
    None,
    "```python\ndef f():\n    return 3\nprint(f())\n```\nOutput:\n```\n3\n```",
    "def f():\n    return 3\nprint(f())"
)]
#[case::untagged_code_and_untagged_output(
    PY,
    None,
    "```\ndef f():\n    return [1, 2]\n```\nwhich prints\n```\n[1, 2]\n```",
    "def f():\n    return [1, 2]"
)]
#[case::python_repl_transcript(
    PY,
    None,
    "```pycon\n>>> def double(x):\n...     return 2 * x\n...\n>>> double(4)\n8\n```",
    "def double(x):\n    return 2 * x\n\ndouble(4)"
)]
#[case::repl_prompts_in_an_untagged_block(
    PY,
    None,
    "```\n>>> import math\n>>> math.sqrt(16)\n4.0\n```",
    "import math\nmath.sqrt(16)"
)]
#[case::no_fences_whole_answer_is_code(
    PY,
    None,
    "def f(x):\n    if x > 0:\n        return x\n    return -x\n",
    "def f(x):\n    if x > 0:\n        return x\n    return -x"
)]
#[case::no_fences_prose_around_code(PY, None, "Here is a simple implementation of the function:\n\ndef f(x):\n    return x * x\n\nThis function squares its input and returns it.", "def f(x):\n    return x * x")]
#[case::no_code_at_all(PY, None, "I'm sorry, but I cannot help with that request.", "")]
#[case::only_another_language(PY, None, "```javascript\nfunction f() { return 1; }\n```", "")]
#[case::completion_indented_body_only(
    PY,
    Some("def square(x):\n    \"\"\"Return x squared.\"\"\"\n"),
    "    return x * x\n",
    "def square(x):\n    \"\"\"Return x squared.\"\"\"\n    return x * x"
)]
#[case::completion_unindented_body_gets_indented(
    PY,
    Some("def square(x):\n"),
    "```python\nresult = x * x\nreturn result\n```",
    "def square(x):\n    result = x * x\n    return result"
)]
#[case::completion_answer_repeats_the_whole_function(
    PY,
    Some("def square(x):\n    \"\"\"Return x squared.\"\"\"\n"),
    "```python\ndef square(x):\n    \"\"\"Return x squared.\"\"\"\n    return x ** 2\n```",
    "def square(x):\n    \"\"\"Return x squared.\"\"\"\n    return x ** 2"
)]
#[case::completion_redefinition_keeps_the_prefix_imports(
    PY,
    Some("import math\n\ndef hyp(a, b):\n    \"\"\"Hypotenuse.\"\"\"\n"),
    "```python\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)\n```",
    "import math\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)"
)]
#[case::rust_fence_and_rs_tag_joined(Language::Rust, None, "```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\nand a test:\n```rs\nfn main() {\n    assert_eq!(add(1, 2), 3);\n}\n```", "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn main() {\n    assert_eq!(add(1, 2), 3);\n}")]
#[case::rust_answer_with_shell_instructions(
    Language::Rust,
    None,
    "```rust\nfn main() {\n    println!(\"hi\");\n}\n```\nRun it with:\n```bash\ncargo run\n```",
    "fn main() {\n    println!(\"hi\");\n}"
)]
#[case::javascript_blocks_json_ignored(Language::JavaScript, None, "```javascript\nconst add = (a, b) => a + b;\n```\nconfig:\n```json\n{\"a\": 1}\n```\n```js\nconsole.log(add(1, 2));\n```", "const add = (a, b) => a + b;\n\nconsole.log(add(1, 2));")]
#[case::bash_session_transcript(
    Language::Bash,
    None,
    "```console\n$ greet() { echo \"hi $1\"; }\n$ greet bob\nhi bob\n```",
    "greet() { echo \"hi $1\"; }\ngreet bob"
)]
#[case::julia_repl_with_continuation_lines(Language::Julia, None, "```julia-repl\njulia> function f(x)\n           return x + 1\n       end\nf (generic function with 1 method)\n\njulia> f(1)\n2\n```", "function f(x)\n    return x + 1\nend\nf(1)")]
#[case::markdown_wrapped_answer(
    PY,
    None,
    "````markdown\nHere is the code:\n```python\ndef f():\n    return 1\n```\n````",
    "def f():\n    return 1"
)]
#[case::fence_opened_at_the_end_of_a_prose_line(
    PY,
    None,
    "Here is the code: ```python\ndef f():\n    return 1\n```",
    "def f():\n    return 1"
)]
#[case::closing_fence_glued_to_the_last_line(
    PY,
    None,
    "```python\ndef f():\n    return 1```\nDone.",
    "def f():\n    return 1"
)]
#[case::one_line_block(
    PY,
    None,
    "Just run ```python print('hi')``` and you are done.\n```python print('one line')```",
    "print('one line')"
)]
#[case::fence_indented_in_a_list_item(
    PY,
    None,
    "1. Define the function:\n   ```python\n   def f(x):\n       return x\n   ```\n2. Call it.",
    "def f(x):\n    return x"
)]
#[case::new_tagged_fence_while_one_is_open(
    PY,
    None,
    "```python\nx = 1\n```python\ny = 2\n```",
    "x = 1\n\ny = 2"
)]
#[case::attribute_style_tag(PY, None, "```{.python .numberLines}\nz = 3\n```", "z = 3")]
#[case::crlf_line_endings(
    PY,
    None,
    "```python\r\ndef f():\r\n    return 1\r\n```\r\n",
    "def f():\n    return 1"
)]
#[case::backticks_inside_a_string_literal(
    PY,
    None,
    "```python\nFENCE = \"```\"\ndef wrap(s):\n    return FENCE + s + FENCE\n```",
    "FENCE = \"```\"\ndef wrap(s):\n    return FENCE + s + FENCE"
)]
#[case::closing_fence_with_trailing_text(
    PY,
    None,
    "```python\nx = 41 + 1\n``` (end of code)\nThat's it.",
    "x = 41 + 1"
)]
#[case::longer_fences_nest_shorter_ones(
    PY,
    None,
    "`````python\ndoc = '''\n```\nnot a fence\n```\n'''\n`````",
    "doc = '''\n```\nnot a fence\n```\n'''"
)]
fn extraction_corpus(
    #[case] lang: Language,
    #[case] prefix: Option<&str>,
    #[case] answer: &str,
    #[case] expected: &str,
) {
    let got = extract_code(answer, lang, prefix);
    assert_eq!(
        got.trim_end(),
        expected,
        "{lang} answer {answer:?} with prefix {prefix:?}"
    );
}
