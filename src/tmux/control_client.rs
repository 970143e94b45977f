//! Control mode (`tmux -C`), client side: standard input's lines go to the daemon as they
//! come, the daemon's control-protocol output goes to standard output, and the end of
//! standard input detaches (tmux's control client exits then too).

use std::io::Write;
use std::process::ExitCode;

use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::attach::proto;

/// Lines of standard input waiting to be sent.
const PENDING_LINES: usize = 64;

pub async fn run(stream: UnixStream, _level: u8) -> anyhow::Result<ExitCode> {
    let (mut reader, mut writer) = stream.into_split();
    let (frames_tx, mut frames) = mpsc::channel(PENDING_LINES);
    let read_task = tokio::spawn(async move {
        while let Ok(Some(frame)) = proto::read_frame(&mut reader).await {
            if frames_tx.send(frame).await.is_err() {
                break;
            }
        }
    });
    let mut lines = stdin_lines();
    let mut out = std::io::stdout();
    let mut detaching = false;
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Some((proto::OUTPUT, bytes)) => {
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
                Some((proto::EXIT, _)) | None => break,
                Some(_) => {}
            },
            line = lines.recv(), if !detaching => match line {
                Some(l) => proto::write_frame(&mut writer, proto::INPUT, &l).await?,
                None => {
                    proto::write_frame(&mut writer, proto::DETACH, &[]).await?;
                    detaching = true;
                }
            },
        }
    }
    read_task.abort();
    Ok(ExitCode::SUCCESS)
}

/// Read standard input line by line on a thread (blocking reads cannot be cancelled).
fn stdin_lines() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(PENDING_LINES);
    std::thread::spawn(move || {
        use std::io::BufRead;
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        loop {
            let mut line = Vec::new();
            match lock.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.blocking_send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}
