//! A real `nats-server` with JetStream for the fleet tests: a random loopback port, a store in
//! a temp dir, two users, and a kill on drop.
//!
//! Users (plain passwords: the server is private to one test):
//! - `aegis` / [`FLEET_PASSWORD`]: what fleet daemons use; may do everything.
//! - `intruder` / [`INTRUDER_PASSWORD`]: an authenticated client without fleet rights: it may
//!   publish and subscribe anywhere except the fleet's request and control subjects and the
//!   JetStream API, as a dashboard-only observer would be configured.
//!
//! `stop` and `restart` keep the port and the store, so a restarted server is the same server
//! to its clients, as in an outage.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const FLEET_USER: &str = "aegis";
pub const FLEET_PASSWORD: &str = "fleet-secret";
pub const INTRUDER_USER: &str = "intruder";
pub const INTRUDER_PASSWORD: &str = "not-in-the-fleet";

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let dir = tempfile::Builder::new()
            .prefix("aegis-nats-")
            .tempdir()
            .expect("temp dir");
        let mut server = NatsServer {
            child: None,
            port: 0,
            dir,
        };
        server.launch();
        server
    }

    /// `nats://127.0.0.1:<port>`, without credentials.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Flags for an `aegis serve` joining this server as `host`.
    pub fn fleet_args(&self, host: &str) -> Vec<String> {
        [
            "--nats",
            &self.url(),
            "--host-id",
            host,
            "--nats-user",
            FLEET_USER,
            "--nats-password",
            FLEET_PASSWORD,
            // Tests judge liveness in a second or two, not in the production six.
            "--fleet-heartbeat-ms",
            "300",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn config(&self) -> PathBuf {
        let path = self.dir.path().join("nats.conf");
        let store = self.dir.path().join("js");
        // A port of -1 makes the server pick one; restarts reuse the one it picked. The file
        // store is sized above the event stream's 1 GiB reservation (nothing is written near
        // it): equal to it, a restarted 2.9 server recovers the stream first and then cannot
        // recreate the buckets (docs/fleet.md, "Sizing the store").
        let port = if self.port == 0 { -1 } else { self.port as i32 };
        let conf = format!(
            r#"
listen: "127.0.0.1:{port}"
jetstream {{
  store_dir: "{store}"
  max_memory_store: 64MB
  max_file_store: 4GB
}}
authorization {{
  users = [
    {{ user: "{FLEET_USER}", password: "{FLEET_PASSWORD}" }}
    {{
      user: "{INTRUDER_USER}", password: "{INTRUDER_PASSWORD}"
      permissions: {{
        publish: {{ allow: [">"], deny: ["aegis.rpc.>", "aegis.ctl.>", "$JS.>", "$KV.>"] }}
        subscribe: {{ allow: [">"], deny: ["aegis.rpc.>", "aegis.ctl.>"] }}
      }}
    }}
  ]
}}
"#,
            store = store.display()
        );
        std::fs::write(&path, conf).expect("writing nats.conf");
        path
    }

    fn launch(&mut self) {
        let conf = self.config();
        let log = self.dir.path().join("nats.log");
        let mut child = Command::new(program())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting nats-server (scripts/install-test-deps installs it)");
        let stderr = child.stderr.take().expect("stderr");
        let mut reader = BufReader::new(stderr);
        let mut seen = String::new();
        let mut port = None;
        let mut ready = false;
        // The server logs its client port, then "Server is ready" once JetStream is up.
        while !ready {
            let mut line = String::new();
            if reader
                .read_line(&mut line)
                .expect("reading nats-server's log")
                == 0
            {
                panic!("nats-server exited before it was ready:\n{seen}");
            }
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                port = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok());
            }
            ready = line.contains("Server is ready");
            seen.push_str(&line);
        }
        self.port = port.expect("nats-server's client port");
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .ok();
            for line in reader.lines().map_while(Result::ok) {
                if let Some(f) = file.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(f, "{line}");
                }
            }
        });
        self.child = Some(child);
    }

    /// Stop the server (SIGKILL: an outage, not a shutdown), keeping port and store.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start it again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        // The port was just released; a rare TIME_WAIT clash is retried.
        let mut tries = 0;
        loop {
            let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.launch()));
            match started {
                Ok(()) => return,
                Err(e) if tries >= 20 => std::panic::resume_unwind(e),
                Err(_) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// `nats-server` on PATH, else where Debian installs it (`/usr/sbin` is not on every PATH).
fn program() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
