//! The harness starts a server that answers AWS calls, and stops it when dropped.

#[tokio::test]
async fn starts_answers_and_stops() {
    let moto = capstan_moto::Moto::start().await;
    let port = moto.port();
    assert!(moto.endpoint().ends_with(&format!(":{port}")));
    let config = moto.sdk_config().await;
    assert_eq!(config.endpoint_url(), Some(moto.endpoint().as_str()));
    drop(moto);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server still answers on {port} after drop"
    );
}
