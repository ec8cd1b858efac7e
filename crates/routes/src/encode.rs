//! Query values, percent-encoded (RFC 3986): everything but unreserved
//! characters and `/` (kept so return paths stay readable). A space is
//! `%20`, which both form decoding and URL parsers read as a space.

/// `text` as a query value.
pub fn query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => encoded.push(char::from(byte)),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::query_value;

    #[test]
    fn reserved_and_non_ascii_characters_are_escaped() {
        assert_eq!(query_value("/a b?c=d&e#f"), "/a%20b%3Fc%3Dd%26e%23f");
        assert_eq!(query_value("é+"), "%C3%A9%2B");
    }
}
