//! Settings files as ASP.NET Core reads them: JSON with `//` and `/* */`
//! comments and trailing commas (System.Text.Json with comments skipped and
//! trailing commas allowed), so appsettings files written for
//! Microsoft.Identity.Web load as they are.
//!
//! Comments become spaces (newlines kept) and a trailing comma becomes a
//! space, so serde_json's line and column in an error still point into the
//! file as written. Nothing inside a string is touched.

/// `text` with comments and trailing commas blanked out, or why it cannot
/// be (an unterminated block comment).
pub fn strip(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let mut index = 0;
    let mut in_string = false;
    // Where the last comma outside strings and comments is, while only blanks follow it.
    let mut pending_comma: Option<usize> = None;
    while index < bytes.len() {
        let byte = bytes[index];
        if in_string {
            match byte {
                b'\\' => index += 1,
                b'"' => in_string = false,
                _ => {}
            }
            index += 1;
            continue;
        }
        match (byte, bytes.get(index + 1)) {
            (b'"', _) => {
                in_string = true;
                pending_comma = None;
            }
            (b'/', Some(b'/')) => {
                while index < bytes.len() && bytes[index] != b'\n' {
                    out[index] = b' ';
                    index += 1;
                }
                continue;
            }
            (b'/', Some(b'*')) => {
                let start = index;
                let end = text[index + 2..].find("*/").map(|offset| index + 2 + offset + 2).ok_or_else(|| {
                    let line = text[..start].matches('\n').count() + 1;
                    format!("a /* comment opened on line {line} is never closed")
                })?;
                for blank in &mut out[start..end] {
                    if *blank != b'\n' {
                        *blank = b' ';
                    }
                }
                index = end;
                continue;
            }
            (b',', _) => pending_comma = Some(index),
            (b'}' | b']', _) => {
                if let Some(comma) = pending_comma.take() {
                    out[comma] = b' ';
                }
            }
            (b' ' | b'\t' | b'\r' | b'\n', _) => {}
            _ => pending_comma = None,
        }
        index += 1;
    }
    // Only ASCII bytes were replaced by ASCII spaces, and never inside a multi-byte character.
    String::from_utf8(out).map_err(|_| "the file is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::strip;

    fn parse(text: &str) -> serde_json::Value {
        serde_json::from_str(&strip(text).unwrap()).unwrap()
    }

    #[test]
    fn comments_and_trailing_commas_are_read_as_asp_net_core_reads_them() {
        let text = "{\n  // To call an API\n  \"A\": [1, 2,],\n  /* block\n comment */ \"B\": { \"C\": \"x\", },\n}\n";
        assert_eq!(parse(text), serde_json::json!({ "A": [1, 2], "B": { "C": "x" } }));
    }

    #[test]
    fn strings_keep_what_looks_like_comments_and_commas() {
        let text = r#"{ "Url": "https://login.microsoftonline.com/", "Text": "a /* b */ c, }", "Quote": "\"//\"" }"#;
        let parsed = parse(text);
        assert_eq!(parsed["Url"], "https://login.microsoftonline.com/");
        assert_eq!(parsed["Text"], "a /* b */ c, }");
        assert_eq!(parsed["Quote"], "\"//\"");
    }

    #[test]
    fn errors_still_point_at_the_line_as_written() {
        let text = "{\n  // comment\n  /* two\n lines */\n  \"A\": nope\n}";
        let error = serde_json::from_str::<serde_json::Value>(&strip(text).unwrap()).unwrap_err();
        assert_eq!(error.line(), 5);
        assert!(strip("{ /* open").unwrap_err().contains("line 1"));
    }

    #[test]
    fn a_comma_between_values_stays() {
        assert_eq!(parse("[1, /* two */ 2]"), serde_json::json!([1, 2]));
        assert!(serde_json::from_str::<serde_json::Value>(&strip("[1,,]").unwrap()).is_err(), "only one trailing comma is forgiven");
    }
}
