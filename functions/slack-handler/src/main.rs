//! Wiring only: see `capstan_function::serve`.

#[tokio::main]
async fn main() -> Result<(), capstan_function::Error> {
    capstan_function::serve::<slack_handler::Handler>().await
}
