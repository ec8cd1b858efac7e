//! A message body as plain text. Mail is often HTML someone else wrote:
//! none of it may reach the page as markup (it would run their scripts and
//! fetch their trackers), so the page shows the text the HTML carries, and
//! Leptos escapes that like any other text. The sender controls the input,
//! so every step is linear in its length.

/// The text of `html`: tags and comments dropped (a script's, a style's or
/// a title's content with them), the common entities decoded, a line break
/// where a block ends and a space between table cells, runs of spaces and
/// blank lines squeezed.
pub fn html_to_text(html: &str) -> String {
    // Lowercased once, for finding an element's end tag (ASCII lowercasing keeps every byte index).
    let lower = html.to_ascii_lowercase();
    let bytes = html.as_bytes();
    let mut text = String::with_capacity(html.len() / 2);
    let mut at = 0;
    let mut text_from = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset;
        // A `<` opens a tag only before a letter, `/`, `!` or `?`; otherwise it is text ("a < b").
        let opens_tag = bytes.get(start + 1).is_some_and(|next| next.is_ascii_alphabetic() || b"/!?".contains(next));
        if !opens_tag {
            at = start + 1;
            continue;
        }
        push_decoded(&mut text, &html[text_from..start]);
        if lower[start..].starts_with("<!--") {
            at = lower[start..].find("-->").map_or(html.len(), |end| start + end + 3);
            text_from = at;
            continue;
        }
        let Some(end) = html[start..].find('>').map(|end| start + end) else {
            at = html.len();
            text_from = at;
            break;
        };
        let tag = &lower[start + 1..end];
        let closing = tag.starts_with('/');
        let name: &str = tag.trim_start_matches('/').split(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
        at = end + 1;
        if !closing && matches!(name, "script" | "style" | "title") {
            // Its content is not text a person reads: skip to its end tag (`</script>` or `</script `).
            at = end_of_element(&lower, at, name).unwrap_or(html.len());
        } else if matches!(name, "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "table" | "ul" | "ol") {
            text.push('\n');
        } else if matches!(name, "td" | "th") {
            text.push(' ');
        }
        text_from = at;
    }
    push_decoded(&mut text, &html[text_from..]);
    squeeze(&text)
}

/// Where the text after `</name>` starts, searching `lower` from `from`.
fn end_of_element(lower: &str, from: usize, name: &str) -> Option<usize> {
    let close = format!("</{name}");
    let mut at = from;
    loop {
        let found = at + lower[at..].find(&close)?;
        let after = found + close.len();
        // `</title>` ends a title; `</titles>` does not.
        match lower.as_bytes().get(after) {
            Some(b'>') | Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') | None => {
                return Some(lower[after..].find('>').map_or(lower.len(), |end| after + end + 1));
            }
            _ => at = after,
        }
    }
}

/// The longest entity name read (`&hellip;`, `&#x1F600;`): a `;` further on ends no entity.
const LONGEST_ENTITY: usize = 10;

/// `raw` with the common named entities and numeric references decoded;
/// anything else left as it is.
fn push_decoded(text: &mut String, raw: &str) {
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let window = &after.as_bytes()[..after.len().min(LONGEST_ENTITY + 1)];
        let entity = window.iter().position(|byte| *byte == b';').map(|end| (&after[..end], &after[end + 1..]));
        match entity.and_then(|(name, tail)| decode_entity(name).map(|character| (character, tail))) {
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

fn decode_entity(name: &str) -> Option<char> {
    let named = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "copy" => '©',
        _ => {
            let number = name.strip_prefix('#')?;
            let (digits, radix) = match number.strip_prefix(['x', 'X']) {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            if digits.is_empty() || !digits.chars().all(|digit| digit.is_digit(radix)) {
                return None;
            }
            return u32::from_str_radix(digits, radix).ok().and_then(char::from_u32);
        }
    };
    Some(named)
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
        let text = html_to_text("<SCRIPT type=x>document.cookie</SCRIPT >&lt;script&gt;alert(1)&lt;/script&gt; &#60;b&#x3E; a&nbsp;b &bogus; &#+65;");
        assert_eq!(text, "<script>alert(1)</script> <b> a b &bogus; &#+65;");
        assert!(!html_to_text("<script>never closed").contains("never"));
        assert_eq!(html_to_text("<!--[if mso]><p>Outlook only</p><![endif]-->Shown"), "Shown");
    }

    #[test]
    fn text_that_looks_half_like_markup_is_kept() {
        assert_eq!(html_to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(html_to_text("<head><meta charset=utf-8><p>No end to the head</p>"), "No end to the head");
        assert_eq!(html_to_text("<title>Subject</title><header>Kept</header>"), "Kept");
        assert_eq!(html_to_text("<table><tr><td>a</td><td>b</td></tr></table>"), "a b");
        assert_eq!(html_to_text("It&rsquo;s done &mdash; really&hellip;"), "It’s done — really…");
    }

    #[test]
    fn plain_text_passes_as_it_is() {
        assert_eq!(html_to_text("Line one\n\n\n\nLine   two"), "Line one\n\nLine two");
    }

    #[test]
    fn a_hostile_body_costs_time_in_proportion_to_its_size() {
        // Each of these was quadratic once: every `&` searched the rest for a `;`, every element end lowercased the rest.
        for body in ["&".repeat(1 << 20), "<title></title>".repeat(1 << 16), "<script>".repeat(1 << 16), "<".repeat(1 << 20)] {
            let text = html_to_text(&body);
            assert!(text.len() <= body.len());
        }
    }
}
