//! Where to send the user after sign-in or sign-out (AUTHZ-03).

/// Accepts only same-origin relative paths; anything else becomes `/`.
/// `https://evil`, `//evil` and `/\evil` would all leave the site.
pub fn safe_return_path(candidate: Option<&str>) -> String {
    let Some(path) = candidate else { return "/".into() };
    if let Some(path) = idweb_routes::same_origin_path(path) {
        path.to_owned()
    } else {
        tracing::warn!(target: "idweb::security", "refused a return URL that is not a same-origin path");
        "/".into()
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return_path;

    #[test]
    fn authz_03_same_origin_paths_are_kept() {
        assert_eq!(safe_return_path(Some("/profile")), "/profile");
        assert_eq!(safe_return_path(Some("/mail?page=2#top")), "/mail?page=2#top");
        assert_eq!(safe_return_path(None), "/");
    }

    #[test]
    fn authz_03_other_origins_are_refused() {
        for evil in ["https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil", "evil", "/%0d\n/x", ""] {
            assert_eq!(safe_return_path(Some(evil)), "/", "{evil:?} must be refused");
        }
    }
}
