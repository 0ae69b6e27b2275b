//! Measures the harness's own cost per sample: 70 text evals × 10 samples,
//! answered by the replay backend, so no model time is involved.
//!
//! ```sh
//! python3 scripts/make_recording.py target/overhead-recording 70 10
//! cargo run --release -p litmus --no-default-features --example overhead -- \
//!     --model replay:target/overhead-recording --samples 10 --output-dir target/overhead -q
//! ```
//!
//! Run it twice: the second run is answered entirely from the response and
//! score caches.

use litmus::prelude::*;

macro_rules! questions {
    ($($name:ident = $i:literal),* $(,)?) => {
        $(
            #[eval(tags = ["overhead"])]
            fn $name() -> TextCase {
                TextCase::new(concat!("Question ", $i, ": what is the answer?"))
                    .reference(concat!("answer ", $i))
                    .metric(Metric::rouge_l())
            }
        )*
    };
}

questions!(
    q00 = "0",
    q01 = "1",
    q02 = "2",
    q03 = "3",
    q04 = "4",
    q05 = "5",
    q06 = "6",
    q07 = "7",
    q08 = "8",
    q09 = "9",
    q10 = "10",
    q11 = "11",
    q12 = "12",
    q13 = "13",
    q14 = "14",
    q15 = "15",
    q16 = "16",
    q17 = "17",
    q18 = "18",
    q19 = "19",
    q20 = "20",
    q21 = "21",
    q22 = "22",
    q23 = "23",
    q24 = "24",
    q25 = "25",
    q26 = "26",
    q27 = "27",
    q28 = "28",
    q29 = "29",
    q30 = "30",
    q31 = "31",
    q32 = "32",
    q33 = "33",
    q34 = "34",
    q35 = "35",
    q36 = "36",
    q37 = "37",
    q38 = "38",
    q39 = "39",
    q40 = "40",
    q41 = "41",
    q42 = "42",
    q43 = "43",
    q44 = "44",
    q45 = "45",
    q46 = "46",
    q47 = "47",
    q48 = "48",
    q49 = "49",
    q50 = "50",
    q51 = "51",
    q52 = "52",
    q53 = "53",
    q54 = "54",
    q55 = "55",
    q56 = "56",
    q57 = "57",
    q58 = "58",
    q59 = "59",
    q60 = "60",
    q61 = "61",
    q62 = "62",
    q63 = "63",
    q64 = "64",
    q65 = "65",
    q66 = "66",
    q67 = "67",
    q68 = "68",
    q69 = "69",
);

litmus::main!();
