//! A redis-server of a test's own on a free loopback port, which the test
//! stops and starts (the machine's Redis is never touched).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Bound on starting the server.
const LIMIT: Duration = Duration::from_secs(20);

pub struct PrivateRedis {
    port: u16,
    dir: std::path::PathBuf,
    server: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("idweb-redis-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Self { port, dir, server: None };
        redis.launch();
        redis
    }

    pub fn launch(&mut self) {
        let server = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/services.sh installs it)");
        self.server = Some(server);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < LIMIT, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

