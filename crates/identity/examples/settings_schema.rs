//! Writes the JSON Schema of the settings file to standard output:
//! `cargo run -q -p idweb-identity --example settings_schema > docs/appsettings.schema.json`
//! (a test fails while the committed file differs).

fn main() {
    let schema = idweb_identity::config::settings_schema();
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => println!("{text}"),
        Err(error) => {
            eprintln!("settings_schema: {error}");
            std::process::exit(1);
        }
    }
}
