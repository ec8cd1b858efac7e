//! The emulator's HTML: escaping and a page frame.

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A complete page around `body` (already escaped HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} - idweb emulator</title><style>{STYLE}</style></head>\
         <body><main>{body}<p class=\"note\">idweb-emulator: a local stand-in for the Microsoft identity platform.</p></main></body></html>",
        title = escape(title),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}\
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;box-shadow:0 2px 6px rgba(0,0,0,.2)}\
h1{font-size:1.4rem}form{display:flex;flex-direction:column;gap:.5rem}\
button{font:inherit;text-align:left;padding:.6rem .8rem;border:1px solid #8a8886;background:#fff;cursor:pointer}\
button:hover,button:focus-visible{background:#f3f2f1;outline:2px solid #0067b8}\
button small{display:block;color:#605e5c}.cancel{text-align:center;margin-top:1rem}\
.error{color:#a4262c}.note{color:#605e5c;font-size:.8rem;margin-top:2rem}";

#[cfg(test)]
mod tests {
    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(super::escape("<script>\"a\" & 'b'</script>"), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
    }
}
