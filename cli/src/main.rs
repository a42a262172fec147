//! `capstan`: validate, test, explain and simulate a Capstan policy file.

fn main() {
    println!("capstan: not yet");
}
