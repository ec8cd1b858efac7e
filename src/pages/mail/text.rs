//! A message body as plain text. Mail is often HTML someone else wrote:
//! none of it may reach the page as markup (it would run their scripts and
//! fetch their trackers), so the page shows the text the HTML carries, and
//! Leptos escapes that like any other text.

/// The text of `html`: tags dropped (a script's or a style's content with
/// them), the common entities decoded, a line break where a block ends,
/// runs of spaces and blank lines squeezed.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        push_decoded(&mut text, &rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            // A `<` that opens no tag is text.
            push_decoded(&mut text, &rest[start..]);
            rest = "";
            break;
        };
        let tag = after[..end].trim();
        rest = &after[end + 1..];
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        let closing = tag.starts_with('/');
        if !closing && matches!(name.as_str(), "script" | "style" | "head" | "title") {
            // Skip to this element's end: its content is not text a person reads.
            let close = format!("</{name}");
            match find_ignoring_case(rest, &close) {
                Some(at) => rest = rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => rest = "",
            }
            continue;
        }
        if matches!(name.as_str(), "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "table" | "ul" | "ol") {
            text.push('\n');
        }
    }
    push_decoded(&mut text, rest);
    squeeze(&text)
}

fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(&needle.to_ascii_lowercase())
}

/// `raw` with `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`, `&apos;`, `&nbsp;`
/// and numeric references decoded; anything else left as it is.
fn push_decoded(text: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let entity = after.find(';').filter(|end| *end <= 10).map(|end| (&after[..end], &after[end + 1..]));
        let decoded = entity.and_then(|(name, tail)| {
            let character = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|decimal| decimal.parse().ok()))
                    .and_then(char::from_u32),
            };
            character.map(|character| (character, tail))
        });
        match decoded {
            Some((character, tail)) => {
                text.push(character);
                rest = tail;
            }
            None => {
                text.push('&');
                rest = after;
            }
        }
    }
    text.push_str(rest);
}

/// Spaces and tabs in a run become one; lines are trimmed; at most one blank line in a row.
fn squeeze(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_lines = 0;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            blank_lines += 1;
            if blank_lines > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank_lines = 0;
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::html_to_text;

    #[test]
    fn xss_01_markup_goes_and_the_text_stays_with_its_line_breaks() {
        let html = "<html><head><style>p { color: red }</style><script>alert('x')</script></head><body>\
                    <p>Hi Adele,</p><p>This is <b>bold</b> &amp; clear.<br>Thanks!</p>\
                    <img src=\"https://tracker.example/p.gif\" onerror=\"alert(1)\"></body></html>";
        assert_eq!(html_to_text(html), "Hi Adele,\n\nThis is bold & clear.\nThanks!", "paragraphs apart, a break within one");
    }

    #[test]
    fn xss_01_scripts_and_entities_never_become_markup() {
        let text = html_to_text("<SCRIPT type=x>document.cookie</SCRIPT>&lt;script&gt;alert(1)&lt;/script&gt; &#60;b&#x3E; a&nbsp;b &bogus; 1 < 2");
        assert_eq!(text, "<script>alert(1)</script> <b> a b &bogus; 1 < 2");
        assert!(!html_to_text("<script>never closed").contains("never"));
    }

    #[test]
    fn plain_text_passes_as_it_is() {
        assert_eq!(html_to_text("Line one\n\n\n\nLine   two"), "Line one\n\nLine two");
    }
}
