//! Where sockets live, by tmux's rules, for both sides of the stand-in.
//!
//! tmux puts a server's socket at `<base>/tmux-<uid>/<label>`, where `<base>` is the first of
//! `$TMUX_TMPDIR` and `/tmp` that resolves (a missing `TMUX_TMPDIR` silently falls back to
//! `/tmp`), and the label is `-L NAME` or `default`; `-S PATH` names the socket directly. The
//! stand-in keeps those paths as the names of its namespaces (what `#{socket_path}` and `$TMUX`
//! show), and the daemon listens beside them at `<base>/aegis-<uid>/<label>`, so a `tmux` on
//! PATH finds its daemon with nothing but the environment tmux itself reads: no `HOME`, no
//! `AEGIS_*` variable. The directory is checked as tmux checks its own (created 0700, a real
//! directory, owned by us, nothing for "other"), with tmux's messages.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The label of the socket a daemon or client uses when given none.
pub const DEFAULT_LABEL: &str = "default";

/// tmux's base directory: `$TMUX_TMPDIR` if it resolves, else `/tmp`, resolved.
pub fn base_dir(tmux_tmpdir: Option<&str>) -> PathBuf {
    tmux_tmpdir
        .filter(|d| !d.is_empty())
        .into_iter()
        .chain(["/tmp"])
        .find_map(|d| std::fs::canonicalize(d).ok())
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The base directory from this process's environment.
pub fn base_dir_from_env() -> PathBuf {
    base_dir(std::env::var("TMUX_TMPDIR").ok().as_deref())
}

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// `<base>/tmux-<uid>`: where real tmux keeps its sockets, and so where the stand-in's
/// namespaces are named.
pub fn tmux_dir(base: &Path) -> PathBuf {
    base.join(format!("tmux-{}", uid()))
}

/// `<base>/aegis-<uid>`: where daemons listen for the stand-in.
pub fn aegis_dir(base: &Path) -> PathBuf {
    base.join(format!("aegis-{}", uid()))
}

/// Create `dir` (mode 0700) if needed and check it as tmux checks its socket directory: a
/// directory (not a symlink), owned by us, with no permission bits for "other". The errors
/// are tmux's wording.
pub fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(format!(
                "couldn't create directory {} ({})",
                dir.display(),
                errno_text(&e)
            ));
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        format!(
            "couldn't read directory {} ({})",
            dir.display(),
            errno_text(&e)
        )
    })?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if meta.uid() != uid() || meta.permissions().mode() & 0o007 != 0 {
        return Err(format!(
            "directory {} has unsafe permissions",
            dir.display()
        ));
    }
    Ok(())
}

/// An io error as `strerror` spells it, without Rust's " (os error N)" suffix.
fn errno_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

pub use crate::store::check_socket_path;

/// Where a daemon listens for the stand-in: `-S PATH` as given, else
/// `<base>/aegis-<uid>/<label>` (the directory created and checked).
pub fn daemon_listen_path(
    label: &str,
    explicit: Option<&Path>,
    base: &Path,
) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    }
    if label.is_empty() || label.contains('/') {
        return Err(format!("invalid socket label {label:?}"));
    }
    let dir = aegis_dir(base);
    ensure_private_dir(&dir)?;
    let path = dir.join(label);
    check_socket_path(&path, "the tmux stand-in socket")?;
    Ok(path)
}

/// How a stand-in invocation names its tmux server (`-S`, `-L`, `$TMUX`, or the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    /// The namespace: the socket path real tmux would use.
    pub socket: String,
    /// The label when the socket is `<base>/tmux-<uid>/<label>` (not for `-S`).
    pub label: Option<String>,
    /// Whether `-S` gave the path.
    pub explicit: bool,
}

/// tmux's precedence: `-S path` (made absolute) > `-L label` > `$TMUX` up to its first comma
/// > `default`.
pub fn server_name(
    socket: Option<&str>,
    label: Option<&str>,
    tmux_env: Option<&str>,
    base: &Path,
) -> ServerName {
    if let Some(s) = socket {
        let path = std::path::absolute(s)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| s.to_owned());
        return ServerName {
            socket: path,
            label: None,
            explicit: true,
        };
    }
    if let Some(l) = label {
        return ServerName {
            socket: tmux_dir(base).join(l).display().to_string(),
            label: Some(l.to_owned()),
            explicit: false,
        };
    }
    if let Some(from_env) = tmux_env
        .and_then(|t| t.split(',').next())
        .filter(|s| !s.is_empty())
    {
        let label = Path::new(from_env)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        return ServerName {
            socket: from_env.to_owned(),
            label,
            explicit: false,
        };
    }
    ServerName {
        socket: tmux_dir(base).join(DEFAULT_LABEL).display().to_string(),
        label: Some(DEFAULT_LABEL.to_owned()),
        explicit: false,
    }
}

/// The daemon sockets a stand-in tries, in order: `AEGIS_STATE_DIR`'s (an explicit override:
/// the only one then), the `-S` path itself (a daemon started with `aegis serve -S PATH`), the
/// daemon dedicated to this label (`aegis serve -L NAME`), the default daemon, and the socket
/// in the default state directory.
pub fn daemon_candidates(
    name: &ServerName,
    state_dir_override: Option<&Path>,
    base: &Path,
    default_state_socket: Option<PathBuf>,
) -> Vec<PathBuf> {
    if let Some(dir) = state_dir_override {
        return vec![crate::attach::server::socket_path(dir)];
    }
    let mut out = Vec::new();
    if name.explicit {
        out.push(PathBuf::from(&name.socket));
    }
    let dir = aegis_dir(base);
    if let Some(l) = &name.label
        && l != DEFAULT_LABEL
        && !l.contains('/')
    {
        out.push(dir.join(l));
    }
    out.push(dir.join(DEFAULT_LABEL));
    out.extend(default_state_socket);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_tmux_precedence() {
        let base = Path::new("/b");
        let uid = uid();
        let n = server_name(Some("/x/s"), Some("l"), Some("/t/e,1,2"), base);
        assert_eq!((n.socket.as_str(), n.explicit), ("/x/s", true));
        let n = server_name(None, Some("l"), Some("/t/e,1,2"), base);
        assert_eq!(n.socket, format!("/b/tmux-{uid}/l"));
        let n = server_name(None, None, Some("/t/e,1,2"), base);
        assert_eq!((n.socket.as_str(), n.label.as_deref()), ("/t/e", Some("e")));
        let n = server_name(None, None, Some(",1,2"), base);
        assert_eq!(n.socket, format!("/b/tmux-{uid}/default"));
    }

    #[test]
    fn candidates_prefer_the_override_then_the_label() {
        let base = Path::new("/b");
        let uid = uid();
        let name = server_name(None, Some("work"), None, base);
        let c = daemon_candidates(&name, None, base, Some("/h/aegis.sock".into()));
        assert_eq!(
            c,
            vec![
                PathBuf::from(format!("/b/aegis-{uid}/work")),
                PathBuf::from(format!("/b/aegis-{uid}/default")),
                PathBuf::from("/h/aegis.sock"),
            ]
        );
        let c = daemon_candidates(&name, Some(Path::new("/s")), base, None);
        assert_eq!(c, vec![PathBuf::from("/s/aegis.sock")]);
    }

    #[test]
    fn private_dirs_are_checked_like_tmux() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("aegis-x");
        ensure_private_dir(&dir).expect("fresh dir");
        ensure_private_dir(&dir).expect("existing dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o757)).expect("chmod");
        assert_eq!(
            ensure_private_dir(&dir),
            Err(format!(
                "directory {} has unsafe permissions",
                dir.display()
            ))
        );
        let file = tmp.path().join("file");
        std::fs::write(&file, "").expect("file");
        assert_eq!(
            ensure_private_dir(&file),
            Err(format!("{} is not a directory", file.display()))
        );
        assert!(check_socket_path(&PathBuf::from("/".repeat(120)), "x").is_err());
        assert_eq!(base_dir(Some("/definitely/not/here")), base_dir(None));
    }
}
