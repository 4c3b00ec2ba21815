//! `toolstream proxy`: the recording proxy of [`toolstream::proxy`] on a socket until
//! Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use toolstream::proxy::{Proxy, ProxyConfig, ProxyMode};

/// Serves until Ctrl-C. The first line of standard output is the base URL
/// (`http://127.0.0.1:PORT`); the statistics go to standard error at the end.
pub fn proxy(
    addr: SocketAddr,
    upstream: Option<&str>,
    cassette: &Path,
    mode: ProxyMode,
) -> Result<(), String> {
    let mut config = ProxyConfig::new(mode, cassette);
    match (mode, upstream) {
        (ProxyMode::Replay, _) => {}
        (_, None) => return Err(format!("{mode} mode needs --upstream URL")),
        (_, Some(url)) => config = config.upstream(url),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let proxy = Proxy::start(addr, config)
            .await
            .map_err(|e| e.to_string())?;
        println!("{}", proxy.base_url());
        let _ = std::io::stdout().flush();
        eprintln!(
            "toolstream proxy: {mode} mode, {} exchanges in {}",
            proxy.exchanges(),
            cassette.display()
        );
        let _ = tokio::signal::ctrl_c().await;
        let stats = proxy.stats();
        eprintln!(
            "toolstream proxy: {}",
            serde_json::to_string(&stats).unwrap_or_default()
        );
        proxy.shutdown().await;
        Ok(())
    })
}
