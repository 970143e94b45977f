//! A minimal blocking HTTP/1.1 keep-alive client over one TCP connection. The latency
//! workloads measure the daemon, so the client must add as little as possible: no runtime,
//! no thread hop, no connection pool; one `write` per request and a buffered read of the reply.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Any single request taking longer than this means the daemon is stuck; fail the workload
/// rather than hang the run.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Http {
    addr: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response is not JSON")
    }

    pub fn contains(&self, needle: &str) -> bool {
        let n = needle.as_bytes();
        self.body.windows(n.len()).any(|w| w == n)
    }
}

impl Http {
    /// `addr` is `host:port`.
    pub fn connect(addr: &str) -> Result<Http> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Http {
            addr: addr.to_owned(),
            reader: BufReader::with_capacity(64 * 1024, stream.try_clone()?),
            writer: stream,
        })
    }

    pub fn get(&mut self, path: &str) -> Result<Response> {
        self.request("GET", path, None)
    }

    pub fn post(&mut self, path: &str, body: &serde_json::Value) -> Result<Response> {
        self.request("POST", path, Some(body.to_string()))
    }

    pub fn delete(&mut self, path: &str) -> Result<Response> {
        self.request("DELETE", path, None)
    }

    pub fn request(&mut self, method: &str, path: &str, body: Option<String>) -> Result<Response> {
        let body = body.unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body.as_bytes());
        self.writer.write_all(&msg)?;
        self.read_response()
            .with_context(|| format!("{method} {path}"))
    }

    fn read_response(&mut self) -> Result<Response> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("connection closed in headers");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let v = v.trim();
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16)
                    .with_context(|| format!("bad chunk size {line:?}"))?;
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..])?;
                line.clear();
                self.reader.read_line(&mut line)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length.unwrap_or(0), 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok(Response { status, body })
    }
}
