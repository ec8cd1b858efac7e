//! Query values, percent-encoded (RFC 3986): everything but unreserved
//! characters and `/` (kept so return paths stay readable). A space is
//! `%20`, which both form decoding and URL parsers read as a space.

/// `text` as a query value.
pub fn query_value(text: &str) -> String {
    percent_encoded(text, |byte| byte == b'/')
}

/// `text` as one path segment: a `/` in it is escaped too. (A text that is
/// only `.` or `..` is still a dot segment to a URL parser: callers pass
/// identifiers that cannot be.)
pub fn path_segment(text: &str) -> String {
    percent_encoded(text, |_| false)
}

/// `text` with every byte but the unreserved characters and those `also_kept` escaped.
fn percent_encoded(text: &str, also_kept: impl Fn(u8) -> bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => encoded.push(char::from(byte)),
            kept if also_kept(kept) => encoded.push(char::from(kept)),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::{path_segment, query_value};

    #[test]
    fn a_path_segment_escapes_its_slashes_too() {
        assert_eq!(path_segment("AAMkAG=-_x"), "AAMkAG%3D-_x");
        assert_eq!(path_segment("a+b/c?d"), "a%2Bb%2Fc%3Fd");
    }

    #[test]
    fn reserved_and_non_ascii_characters_are_escaped() {
        assert_eq!(query_value("/a b?c=d&e#f"), "/a%20b%3Fc%3Dd%26e%23f");
        assert_eq!(query_value("é+"), "%C3%A9%2B");
    }
}
