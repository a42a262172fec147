//! Wiring only: see `capstan_function::serve`.

// One thread: Lambda gives a function a fraction of a vCPU up to 1,769 MB, and its work is
// waiting on AWS; worker threads would only add their stacks and allocator arenas to its memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), capstan_function::InvocationError> {
    capstan_function::serve::<budget_handler::Handler>().await
}
