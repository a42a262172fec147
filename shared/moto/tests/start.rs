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

#[tokio::test]
async fn leases_are_distinct_regions_of_one_server() {
    let a = capstan_moto::MotoRegion::lease().await;
    let b = capstan_moto::MotoRegion::lease().await;
    assert_ne!(a.name(), b.name());
    assert_eq!(a.endpoint(), b.endpoint());
    let cfg = a.sdk_config().await;
    assert_eq!(cfg.region().map(|r| r.as_ref()), Some(a.name()));
    let port: u16 = a.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}
