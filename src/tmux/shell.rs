//! The shell side of `run-shell` and `if-shell`: the command runs with the lock released
//! (through `pty::run`, as every helper program of the daemon), then its output is printed
//! or the branch it chose runs.

use super::exec::{AttachTo, Ctx, ShellJob};
use super::host::TmuxHost;
use super::tree::Namespaces;
use super::vars::HostInfo;
use crate::attach::proto::TmuxRequest;

pub async fn run_shell(job: &ShellJob, req: &TmuxRequest) -> Option<(i32, String)> {
    let argv = vec!["/bin/sh".to_owned(), "-c".to_owned(), job.command.clone()];
    let env: Vec<(String, String)> = req
        .env
        .iter()
        .filter(|(k, _)| !k.starts_with("AEGIS_"))
        .cloned()
        .chain(job.env.iter().cloned())
        .collect();
    let cwd = if std::path::Path::new(&job.cwd).is_dir() {
        std::path::PathBuf::from(&job.cwd)
    } else {
        std::path::PathBuf::from("/")
    };
    let run = async move {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        crate::pty::run::run(
            &argv,
            &cwd,
            &env,
            std::time::Duration::from_secs(600),
            4 << 20,
        )
        .await
    };
    if job.background {
        tokio::spawn(run);
        return None;
    }
    let r = run.await.ok()?;
    Some((r.exit_code.unwrap_or(1), r.tail_text()))
}

#[allow(clippy::too_many_arguments)] // reason: the chain's state, passed through once
pub async fn after_shell(
    host: &TmuxHost,
    ns: &mut Namespaces,
    req: &TmuxRequest,
    info: &HostInfo,
    out: &mut String,
    client: Option<u64>,
    attach: &mut Option<AttachTo>,
    job: ShellJob,
    outcome: Option<(i32, String)>,
) -> Result<(), String> {
    let Some((code, text)) = outcome else {
        return Ok(());
    };
    match job.then {
        None => {
            out.push_str(&text);
            if code != 0 {
                let msg = format!("'{}' returned {code}", job.command);
                return Err(msg);
            }
            Ok(())
        }
        Some((yes, no)) => {
            let chosen = if code == 0 { Some(yes) } else { no };
            let Some(text) = chosen else {
                return Ok(());
            };
            if !ns.servers.contains_key(&req.socket) {
                return Ok(());
            }
            let mut ctx = Ctx::new(host, ns, req, out, info, client, attach, 1);
            ctx.source_text(&text, "if-shell").await
        }
    }
}
