//! Turning token pieces into text: UTF-8 split across tokens, and stop strings
//! (possibly split across tokens) removed from the output.

/// Accumulates the bytes of generated tokens into text.
#[derive(Debug, Default, Clone)]
pub struct TextAccumulator {
    text: String,
    /// Bytes of an incomplete UTF-8 character at the end.
    pending: Vec<u8>,
}

impl TextAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The text so far (without an incomplete trailing character).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Append a token's bytes. If one of `stops` now occurs in the text, the
    /// text is cut before the earliest occurrence and `true` is returned.
    pub fn push(&mut self, bytes: &[u8], stops: &[String]) -> bool {
        let old_len = self.text.len();
        self.pending.extend_from_slice(bytes);
        self.decode_pending(false);
        self.check_stops(old_len, stops)
    }

    /// Keep only the first `len` bytes of the text (a char boundary), and
    /// drop any incomplete character after them.
    pub fn truncate(&mut self, len: usize) {
        self.text.truncate(len);
        self.pending.clear();
    }

    /// Flush an incomplete trailing character (as U+FFFD) and check the stops
    /// once more; returns the final text.
    pub fn finish(mut self, stops: &[String]) -> String {
        let old_len = self.text.len();
        self.decode_pending(true);
        self.check_stops(old_len, stops);
        self.text
    }

    fn decode_pending(&mut self, flush: bool) {
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    self.text.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // SAFETY-free: from_utf8 said these bytes are valid.
                    self.text.push_str(
                        std::str::from_utf8(&self.pending[start..start + valid])
                            .unwrap_or_default(),
                    );
                    start += valid;
                    match e.error_len() {
                        Some(len) => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            start += len;
                        }
                        None if flush => {
                            self.text.push(char::REPLACEMENT_CHARACTER);
                            start = self.pending.len();
                            break;
                        }
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..start);
    }

    fn check_stops(&mut self, old_len: usize, stops: &[String]) -> bool {
        let mut cut: Option<usize> = None;
        for stop in stops.iter().filter(|s| !s.is_empty()) {
            // A match must end in the new text, so it starts at most len-1 bytes before it.
            let mut from = old_len.saturating_sub(stop.len().saturating_sub(1));
            while !self.text.is_char_boundary(from) {
                from -= 1;
            }
            if let Some(i) = self.text[from..].find(stop.as_str()) {
                let at = from + i;
                cut = Some(cut.map_or(at, |c| c.min(at)));
            }
        }
        if let Some(at) = cut {
            self.text.truncate(at);
            self.pending.clear();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pieces: &[&[u8]], stops: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut acc = TextAccumulator::new();
        for p in pieces {
            if acc.push(p, &stops) {
                return (acc.finish(&stops), true);
            }
        }
        (acc.finish(&stops), false)
    }

    #[test]
    fn utf8_split_across_tokens() {
        let euro = "€".as_bytes(); // 3 bytes
        let (t, _) = run(&[b"a", &euro[..1], &euro[1..2], &euro[2..], b"b"], &[]);
        assert_eq!(t, "a€b");
        let crab = "🦀".as_bytes();
        let (t, _) = run(&[&crab[..2], &crab[2..]], &[]);
        assert_eq!(t, "🦀");
    }

    #[test]
    fn invalid_and_incomplete_bytes() {
        let (t, _) = run(&[b"a\xffb"], &[]);
        assert_eq!(t, "a\u{fffd}b");
        let (t, _) = run(&[b"a", &"€".as_bytes()[..2]], &[]);
        assert_eq!(t, "a\u{fffd}");
    }

    #[test]
    fn stop_strings() {
        assert_eq!(
            run(&[b"hello", b" wor", b"ld"], &["world"]),
            ("hello ".into(), true)
        );
        assert_eq!(
            run(&[b"hel", b"lo\n", b"\nmore"], &["\n\n"]),
            ("hello".into(), true)
        );
        // Earliest of several stops wins.
        assert_eq!(
            run(&[b"a STOP b END"], &["END", "STOP"]),
            ("a ".into(), true)
        );
        // A stop made of a multi-byte character split across tokens.
        let e = "é".as_bytes();
        assert_eq!(
            run(&[b"caf", &e[..1], &e[1..], b"!"], &["é"]),
            ("caf".into(), true)
        );
        assert_eq!(
            run(&[b"no stop here"], &["zzz", ""]),
            ("no stop here".into(), false)
        );
        // Stop at the very start.
        assert_eq!(run(&[b"##", b"x"], &["##"]), ("".into(), true));
    }
}
