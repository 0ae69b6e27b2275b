//! Extraction on a corpus of messy, realistic answers.

use litmus_sandbox::{extract_code, Language};

struct Case {
    name: &'static str,
    lang: Language,
    prefix: Option<&'static str>,
    answer: &'static str,
    expected: &'static str,
}

const PY: Language = Language::Python;

fn corpus() -> Vec<Case> {
    vec![
        Case {
            name: "plain python fence",
            lang: PY,
            prefix: None,
            answer: "Sure! Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\nThis adds two numbers.",
            expected: "def add(a, b):\n    return a + b",
        },
        Case {
            name: "capitalised tag",
            lang: PY,
            prefix: None,
            answer: "```Python\ndef add(a, b):\n    return a + b\n```",
            expected: "def add(a, b):\n    return a + b",
        },
        Case {
            name: "space before tag",
            lang: PY,
            prefix: None,
            answer: "``` python\ndef add(a, b):\n    return a + b\n```",
            expected: "def add(a, b):\n    return a + b",
        },
        Case {
            name: "versioned tag",
            lang: PY,
            prefix: None,
            answer: "```python3.11\nx = 1\n```",
            expected: "x = 1",
        },
        Case {
            name: "tag with trailing text",
            lang: PY,
            prefix: None,
            answer: "```py title=\"solution.py\" # the answer\ndef f():\n    return 1\n```",
            expected: "def f():\n    return 1",
        },
        Case {
            name: "unclosed final fence",
            lang: PY,
            prefix: None,
            answer: "Here you go:\n```python\ndef f(x):\n    return x * 2\n",
            expected: "def f(x):\n    return x * 2",
        },
        Case {
            name: "tilde fences",
            lang: PY,
            prefix: None,
            answer: "~~~python\nprint('hi')\n~~~",
            expected: "print('hi')",
        },
        Case {
            name: "untagged fence with code",
            lang: PY,
            prefix: None,
            answer: "The solution:\n```\ndef f(x):\n    return x + 1\n```",
            expected: "def f(x):\n    return x + 1",
        },
        Case {
            name: "several python blocks joined in order",
            lang: PY,
            prefix: None,
            answer: "First a helper:\n```python\ndef helper(x):\n    return x + 1\n```\nThen the main function:\n```python\ndef main(x):\n    return helper(x) * 2\n```",
            expected: "def helper(x):\n    return x + 1\n\ndef main(x):\n    return helper(x) * 2",
        },
        Case {
            name: "output block tagged text is ignored",
            lang: PY,
            prefix: None,
            answer: "```python\nprint(reverse('ab'))\n```\nOutput:\n```text\nba\n```",
            expected: "print(reverse('ab'))",
        },
        Case {
            name: "untagged output after a tagged block is ignored",
            lang: PY,
            prefix: None,
            answer: "```python\ndef f():\n    return 3\nprint(f())\n```\nOutput:\n```\n3\n```",
            expected: "def f():\n    return 3\nprint(f())",
        },
        Case {
            name: "untagged code and untagged output",
            lang: PY,
            prefix: None,
            answer: "```\ndef f():\n    return [1, 2]\n```\nwhich prints\n```\n[1, 2]\n```",
            expected: "def f():\n    return [1, 2]",
        },
        Case {
            name: "python REPL transcript",
            lang: PY,
            prefix: None,
            answer: "```pycon\n>>> def double(x):\n...     return 2 * x\n...\n>>> double(4)\n8\n```",
            expected: "def double(x):\n    return 2 * x\n\ndouble(4)",
        },
        Case {
            name: "REPL prompts in an untagged block",
            lang: PY,
            prefix: None,
            answer: "```\n>>> import math\n>>> math.sqrt(16)\n4.0\n```",
            expected: "import math\nmath.sqrt(16)",
        },
        Case {
            name: "no fences, whole answer is code",
            lang: PY,
            prefix: None,
            answer: "def f(x):\n    if x > 0:\n        return x\n    return -x\n",
            expected: "def f(x):\n    if x > 0:\n        return x\n    return -x",
        },
        Case {
            name: "no fences, prose around code",
            lang: PY,
            prefix: None,
            answer: "Here is a simple implementation of the function:\n\ndef f(x):\n    return x * x\n\nThis function squares its input and returns it.",
            expected: "def f(x):\n    return x * x",
        },
        Case {
            name: "no code at all",
            lang: PY,
            prefix: None,
            answer: "I'm sorry, but I cannot help with that request.",
            expected: "",
        },
        Case {
            name: "only another language",
            lang: PY,
            prefix: None,
            answer: "```javascript\nfunction f() { return 1; }\n```",
            expected: "",
        },
        Case {
            name: "completion: indented body only",
            lang: PY,
            prefix: Some("def square(x):\n    \"\"\"Return x squared.\"\"\"\n"),
            answer: "    return x * x\n",
            expected: "def square(x):\n    \"\"\"Return x squared.\"\"\"\n    return x * x",
        },
        Case {
            name: "completion: unindented body gets indented",
            lang: PY,
            prefix: Some("def square(x):\n"),
            answer: "```python\nresult = x * x\nreturn result\n```",
            expected: "def square(x):\n    result = x * x\n    return result",
        },
        Case {
            name: "completion: answer repeats the whole function",
            lang: PY,
            prefix: Some("def square(x):\n    \"\"\"Return x squared.\"\"\"\n"),
            answer: "```python\ndef square(x):\n    \"\"\"Return x squared.\"\"\"\n    return x ** 2\n```",
            expected: "def square(x):\n    \"\"\"Return x squared.\"\"\"\n    return x ** 2",
        },
        Case {
            name: "completion: redefinition keeps the prefix imports",
            lang: PY,
            prefix: Some("import math\n\ndef hyp(a, b):\n    \"\"\"Hypotenuse.\"\"\"\n"),
            answer: "```python\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)\n```",
            expected: "import math\ndef hyp(a, b):\n    return math.sqrt(a * a + b * b)",
        },
        Case {
            name: "rust fence and rs tag joined",
            lang: Language::Rust,
            prefix: None,
            answer: "```rust\nfn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```\nand a test:\n```rs\nfn main() {\n    assert_eq!(add(1, 2), 3);\n}\n```",
            expected: "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\nfn main() {\n    assert_eq!(add(1, 2), 3);\n}",
        },
        Case {
            name: "rust answer with shell instructions",
            lang: Language::Rust,
            prefix: None,
            answer: "```rust\nfn main() {\n    println!(\"hi\");\n}\n```\nRun it with:\n```bash\ncargo run\n```",
            expected: "fn main() {\n    println!(\"hi\");\n}",
        },
        Case {
            name: "javascript blocks, json ignored",
            lang: Language::JavaScript,
            prefix: None,
            answer: "```javascript\nconst add = (a, b) => a + b;\n```\nconfig:\n```json\n{\"a\": 1}\n```\n```js\nconsole.log(add(1, 2));\n```",
            expected: "const add = (a, b) => a + b;\n\nconsole.log(add(1, 2));",
        },
        Case {
            name: "bash session transcript",
            lang: Language::Bash,
            prefix: None,
            answer: "```console\n$ greet() { echo \"hi $1\"; }\n$ greet bob\nhi bob\n```",
            expected: "greet() { echo \"hi $1\"; }\ngreet bob",
        },
        Case {
            name: "julia REPL with continuation lines",
            lang: Language::Julia,
            prefix: None,
            answer: "```julia-repl\njulia> function f(x)\n           return x + 1\n       end\nf (generic function with 1 method)\n\njulia> f(1)\n2\n```",
            expected: "function f(x)\n    return x + 1\nend\nf(1)",
        },
        Case {
            name: "markdown-wrapped answer",
            lang: PY,
            prefix: None,
            answer: "````markdown\nHere is the code:\n```python\ndef f():\n    return 1\n```\n````",
            expected: "def f():\n    return 1",
        },
        Case {
            name: "fence opened at the end of a prose line",
            lang: PY,
            prefix: None,
            answer: "Here is the code: ```python\ndef f():\n    return 1\n```",
            expected: "def f():\n    return 1",
        },
        Case {
            name: "closing fence glued to the last line",
            lang: PY,
            prefix: None,
            answer: "```python\ndef f():\n    return 1```\nDone.",
            expected: "def f():\n    return 1",
        },
        Case {
            name: "one-line block",
            lang: PY,
            prefix: None,
            answer: "Just run ```python print('hi')``` and you are done.\n```python print('one line')```",
            expected: "print('one line')",
        },
        Case {
            name: "fence indented in a list item",
            lang: PY,
            prefix: None,
            answer: "1. Define the function:\n   ```python\n   def f(x):\n       return x\n   ```\n2. Call it.",
            expected: "def f(x):\n    return x",
        },
        Case {
            name: "new tagged fence while one is open",
            lang: PY,
            prefix: None,
            answer: "```python\nx = 1\n```python\ny = 2\n```",
            expected: "x = 1\n\ny = 2",
        },
        Case {
            name: "attribute-style tag",
            lang: PY,
            prefix: None,
            answer: "```{.python .numberLines}\nz = 3\n```",
            expected: "z = 3",
        },
        Case {
            name: "CRLF line endings",
            lang: PY,
            prefix: None,
            answer: "```python\r\ndef f():\r\n    return 1\r\n```\r\n",
            expected: "def f():\n    return 1",
        },
        Case {
            name: "backticks inside a string literal",
            lang: PY,
            prefix: None,
            answer: "```python\nFENCE = \"```\"\ndef wrap(s):\n    return FENCE + s + FENCE\n```",
            expected: "FENCE = \"```\"\ndef wrap(s):\n    return FENCE + s + FENCE",
        },
        Case {
            name: "closing fence with trailing text",
            lang: PY,
            prefix: None,
            answer: "```python\nx = 41 + 1\n``` (end of code)\nThat's it.",
            expected: "x = 41 + 1",
        },
        Case {
            name: "longer fences nest shorter ones",
            lang: PY,
            prefix: None,
            answer: "`````python\ndoc = '''\n```\nnot a fence\n```\n'''\n`````",
            expected: "doc = '''\n```\nnot a fence\n```\n'''",
        },
    ]
}

#[test]
fn extraction_corpus() {
    let cases = corpus();
    assert!(cases.len() >= 25, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let got = extract_code(c.answer, c.lang, c.prefix);
        if got.trim_end() != c.expected {
            failures.push(format!(
                "--- {} ---\nexpected:\n{}\ngot:\n{}\n",
                c.name, c.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
