//! `aegis attach`: put the terminal in raw mode, show the session, forward keys and resizes,
//! and detach on the prefix key.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use std::io::Write;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::filter::{Action, InputFilter};
use super::proto::{self, AttachRequest, Attached, ClientInfo, Request};
use super::term;

/// Keyboard reads in flight between the stdin thread and the client loop.
const STDIN_CHUNKS: usize = 64;

#[derive(Debug, Clone, clap::Args)]
pub struct AttachArgs {
    /// Session id or name.
    pub session: String,
    /// Watch only: keystrokes are not sent and the session is never resized.
    #[arg(short = 'r', long)]
    pub read_only: bool,
    /// The detach prefix, as a tmux key name; `PREFIX d` detaches, `PREFIX PREFIX` sends it.
    #[arg(long, env = "AEGIS_ATTACH_PREFIX", default_value = "C-b")]
    pub prefix: String,
    /// The daemon's state directory (where its socket is).
    #[arg(long, env = "AEGIS_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

/// The daemon's socket, from `--state-dir`/`AEGIS_STATE_DIR` or the default state dir.
pub fn daemon_socket(state_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match state_dir {
        Some(d) => d.to_path_buf(),
        None => match std::env::var_os("AEGIS_STATE_DIR").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => crate::store::default_state_dir()?,
        },
    };
    Ok(super::server::socket_path(&dir))
}

/// Parse a prefix key name into the one byte it sends.
pub fn prefix_byte(name: &str) -> anyhow::Result<u8> {
    match crate::session::keys::encode(name, false).as_slice() {
        [b] => Ok(*b),
        _ => bail!("the attach prefix must be a single-byte key such as C-b or C-a, not {name:?}"),
    }
}

pub async fn run(args: AttachArgs) -> anyhow::Result<()> {
    let socket = daemon_socket(args.state_dir.as_deref())?;
    let prefix = prefix_byte(&args.prefix)?;
    let message = attach(&socket, &args.session, args.read_only, prefix).await?;
    println!("{message}");
    Ok(())
}

pub async fn connect(socket: &Path) -> anyhow::Result<UnixStream> {
    UnixStream::connect(socket).await.with_context(|| {
        format!(
            "cannot reach the Aegis daemon at {}; is it running? Start it with `aegis serve`",
            socket.display()
        )
    })
}

/// Attach until detach, session exit or a signal; returns the line to print afterwards.
pub async fn attach(
    socket: &Path,
    session: &str,
    read_only: bool,
    prefix: u8,
) -> anyhow::Result<String> {
    attach_to(socket, session, None, read_only, Some(prefix)).await
}

/// Attach to a tmux stand-in session: the daemon draws the window and handles the prefix.
pub async fn attach_tmux(
    socket: &Path,
    mut target: super::proto::TmuxAttach,
    read_only: bool,
) -> anyhow::Result<String> {
    target.client = ClientInfo::of_this_process();
    attach_to(socket, "", Some(target), read_only, None).await
}

async fn attach_to(
    socket: &Path,
    session: &str,
    tmux: Option<super::proto::TmuxAttach>,
    read_only: bool,
    prefix: Option<u8>,
) -> anyhow::Result<String> {
    if !term::stdin_is_tty() {
        bail!("attach needs a terminal: stdin is not a tty");
    }
    // Signal handlers first: a SIGWINCH between sending our size and the loop would be lost.
    let signals = Signals::install()?;
    let mut stream = connect(socket).await?;
    let (cols, rows) = term::size();
    let req = Request::Attach(AttachRequest {
        session: session.to_owned(),
        read_only,
        cols,
        rows,
        tmux,
        client: ClientInfo::of_this_process(),
    });
    proto::write_frame(&mut stream, proto::REQUEST, &serde_json::to_vec(&req)?).await?;
    let prefix = match proto::read_frame(&mut stream).await? {
        // A pane of the tmux stand-in is shown in its window, where the daemon handles the
        // prefix key as tmux does.
        Some((proto::ATTACHED, hello)) => match serde_json::from_slice::<Attached>(&hello) {
            Ok(a) if a.window => None,
            _ => prefix,
        },
        Some((proto::EXIT, msg)) => bail!("{}", String::from_utf8_lossy(&msg)),
        _ => bail!("the daemon closed the connection"),
    };
    let raw = term::RawMode::enable().context("putting the terminal in raw mode")?;
    if term::size() != (cols, rows) {
        let (c, r) = term::size();
        proto::write_frame(&mut stream, proto::RESIZE, &proto::resize_payload(c, r)).await?;
    }
    let result = pump(stream, signals, read_only, prefix).await;
    drop(raw);
    result
}

/// The signals the client handles: resize, and the three that end it (raw mode clears ISIG,
/// so these come from outside: `kill`, a closed terminal, a supervisor).
struct Signals {
    winch: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            winch: signal(SignalKind::window_change())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

async fn pump(
    stream: UnixStream,
    signals: Signals,
    read_only: bool,
    prefix: Option<u8>,
) -> anyhow::Result<String> {
    let Signals {
        mut winch,
        mut term,
        mut hup,
        mut int,
    } = signals;
    let (reader, mut writer) = stream.into_split();
    let (mut frames, read_task) = proto::spawn_frame_reader(reader, STDIN_CHUNKS);
    let mut keys = spawn_stdin_reader();
    // Terminal writes are small and quick; std's blocking stdout is fine on this thread.
    let mut out = std::io::stdout();
    let mut filter = InputFilter::with_prefix(prefix);
    let mut detaching = false;
    let message = loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some((proto::OUTPUT, bytes)) => {
                    filter.saw_output(&bytes, Instant::now());
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
                Some((proto::EXIT, msg)) => break String::from_utf8_lossy(&msg).into_owned(),
                Some(_) => {}
                None if detaching => break "[detached]".to_owned(),
                None => break "[lost the connection to the aegis daemon]".to_owned(),
            },
            chunk = keys.recv(), if !detaching => {
                let Some(chunk) = chunk else {
                    // stdin closed: detach.
                    proto::write_frame(&mut writer, proto::DETACH, &[]).await?;
                    detaching = true;
                    continue;
                };
                match filter.input(&chunk, Instant::now()) {
                    Action::Send(bytes) => {
                        if !read_only && !bytes.is_empty() {
                            proto::write_frame(&mut writer, proto::INPUT, &bytes).await?;
                        }
                    }
                    Action::Detach(bytes) => {
                        if !read_only && !bytes.is_empty() {
                            proto::write_frame(&mut writer, proto::INPUT, &bytes).await?;
                        }
                        proto::write_frame(&mut writer, proto::DETACH, &[]).await?;
                        detaching = true;
                    }
                }
            }
            _ = winch.recv() => {
                let (c, r) = term::size();
                proto::write_frame(&mut writer, proto::RESIZE, &proto::resize_payload(c, r)).await?;
            }
            _ = term.recv() => break "[terminated]".to_owned(),
            _ = hup.recv() => break "[hangup]".to_owned(),
            _ = int.recv() => break "[interrupted]".to_owned(),
        }
    };
    read_task.abort();
    Ok(message)
}

/// Read the keyboard on a thread (stdin reads block and cannot be cancelled); the thread ends
/// with the process.
fn spawn_stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(STDIN_CHUNKS);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}
