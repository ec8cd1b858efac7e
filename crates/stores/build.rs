// Embedded migrations (sqlx::migrate!) are read at compile time: a new file must rebuild the crate.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
