//! The wire format of the local socket: length-prefixed frames, `[kind: u8][len: u32 BE]
//! [payload]`. The first frame from the client is a JSON [`Request`]; what follows depends on it.
//!
//! Attach: the server answers `ATTACHED` (JSON [`Attached`]) or `EXIT` (a message), then streams
//! `OUTPUT` frames; the client sends `INPUT`, `RESIZE` (cols, rows as u16 BE) and `DETACH`.
//! The server ends the stream with `EXIT` carrying the line to print.
//! tmux: the server answers one `REPLY` frame (JSON [`TmuxReply`]) and closes; a control-mode
//! request (`tmux -C`) instead gets `OUTPUT` frames (the control protocol's text) until `EXIT`,
//! while the client sends each line of its standard input as an `INPUT` frame and `DETACH` at
//! its end.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const REQUEST: u8 = b'q';
pub const ATTACHED: u8 = b'a';
pub const OUTPUT: u8 = b'o';
pub const EXIT: u8 = b'x';
pub const INPUT: u8 = b'i';
pub const RESIZE: u8 = b'r';
pub const DETACH: u8 = b'd';
pub const REPLY: u8 = b'p';

/// Largest frame either side accepts. A tmux `load-buffer -` carries the paste in the request,
/// so this bounds a paste; output frames are pty chunks (64 KiB) or a redraw (a few hundred KB
/// at the largest screen).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Request {
    Attach(AttachRequest),
    Tmux(TmuxRequest),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachRequest {
    /// Session id or name (unused when `tmux` is given).
    pub session: String,
    pub read_only: bool,
    pub cols: u16,
    pub rows: u16,
    /// Attach to a tmux stand-in session: the daemon draws its current window, panes side by
    /// side, and the client sends its keys unfiltered (the daemon handles the prefix key).
    #[serde(default)]
    pub tmux: Option<TmuxAttach>,
    /// Who the client is: when `session` turns out to be a pane of the tmux stand-in, the
    /// client becomes a client of that pane's server.
    #[serde(default)]
    pub client: ClientInfo,
}

/// Which tmux stand-in session a terminal attaches to, and who the client is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TmuxAttach {
    pub socket: String,
    /// The session id (`$N`).
    pub session: u32,
    #[serde(flatten)]
    pub client: ClientInfo,
}

/// An attaching terminal's process, as a tmux server knows its clients (`list-clients`, the
/// directory and environment of what its key bindings start).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientInfo {
    #[serde(default)]
    pub cwd: String,
    #[serde(default)]
    pub env: Vec<(String, String)>,
    #[serde(default)]
    pub pid: u32,
    /// The client's terminal device (its name in list-clients).
    #[serde(default)]
    pub tty: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attached {
    pub id: String,
    pub name: String,
    /// The daemon draws a tmux window (panes, borders, status line) and handles the prefix
    /// key itself: the client sends every key unfiltered.
    #[serde(default)]
    pub window: bool,
}

/// One `aegis tmux …` invocation, executed by the daemon.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TmuxRequest {
    /// The tmux socket path this invocation addresses (`-L`/`-S`/`$TMUX`): the namespace.
    pub socket: String,
    pub argv: Vec<String>,
    pub cwd: String,
    /// The client's environment, passed to sessions it creates (as tmux's first client does).
    pub env: Vec<(String, String)>,
    /// Standard input, read only when a command asks for it (`load-buffer -`).
    pub stdin: Option<Vec<u8>>,
    /// Whether the client has a terminal (commands that attach need one).
    pub tty: bool,
    /// `$TMUX_PANE` when the client runs inside a stand-in session of the same namespace.
    pub current_pane: Option<String>,
    /// `-f` files (`None`: tmux's default config files).
    #[serde(default)]
    pub config_files: Option<Vec<String>>,
    /// `-C` given once (1) or twice (2): a control-mode client that stays connected.
    #[serde(default)]
    pub control: u8,
    /// `-N`: never start a server.
    #[serde(default)]
    pub no_start: bool,
    /// The client's process id and terminal size (what `list-clients` shows).
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub cols: u16,
    #[serde(default)]
    pub rows: u16,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TmuxReply {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Attach to this session id afterwards.
    pub attach: Option<String>,
    pub read_only: bool,
    /// Attach to this tmux stand-in session afterwards (attach-session, new-session without
    /// -d); the client fills in who it is.
    #[serde(default)]
    pub attach_tmux: Option<TmuxAttach>,
}

impl ClientInfo {
    /// This process: its directory, environment, id and terminal.
    pub fn of_this_process() -> ClientInfo {
        ClientInfo {
            cwd: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "/".into()),
            env: std::env::vars().collect(),
            pid: std::process::id(),
            tty: std::fs::read_link("/proc/self/fd/0")
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }
}

pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: u8,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut head = [0u8; 5];
    head[0] = kind;
    head[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&head).await?;
    w.write_all(payload).await?;
    w.flush().await
}

/// Read one frame; `None` at a clean end of stream.
pub async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    crate::framing::read_frame(r, MAX_FRAME_BYTES).await
}

pub fn resize_payload(cols: u16, rows: u16) -> [u8; 4] {
    let (c, r) = (cols.to_be_bytes(), rows.to_be_bytes());
    [c[0], c[1], r[0], r[1]]
}

pub fn parse_resize(p: &[u8]) -> Option<(u16, u16)> {
    match p {
        [c0, c1, r0, r1] => Some((
            u16::from_be_bytes([*c0, *c1]),
            u16::from_be_bytes([*r0, *r1]),
        )),
        _ => None,
    }
}

/// Read frames on a task of their own into a channel holding `capacity`: reading a frame is
/// not cancel-safe, so a `select!` loop takes them from the channel instead. The task ends at
/// the end of the stream, on a bad frame, or when the receiver is gone; abort the handle to
/// stop it sooner.
pub fn spawn_frame_reader<R>(
    mut reader: R,
    capacity: usize,
) -> (mpsc::Receiver<(u8, Vec<u8>)>, JoinHandle<()>)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (frames_tx, frames) = mpsc::channel(capacity);
    let task = tokio::spawn(async move {
        while let Ok(Some(frame)) = read_frame(&mut reader).await {
            if frames_tx.send(frame).await.is_err() {
                break;
            }
        }
    });
    (frames, task)
}
