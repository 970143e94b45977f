//! Differential tests of what split panes show: captures of panes side by side (colours with
//! `-e`, wide characters, `-J` joins, history with `-S -`, `-a -q` without an alternate
//! screen) and, once the screen model reflows, resizing a pane. Real tmux 3.3a and the
//! stand-in run the same scenes.

use std::time::Duration;

use super::super::{Daemon, pair, rendered, text, tmux_available};
use super::GEOMETRY;
use crate::support::{support_bin, wait_until};

#[test]
fn tmux_panes_captures_of_split_panes_match_real_tmux() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "panecaptures");
    let dir = d.dir.path();
    let script = support_bin("tmux_scene.sh");
    let wide = {
        let mut v = Vec::new();
        for i in 0..60 {
            v.extend(
                format!(
                    "left {i:02} \x1b[3{}mcolour\x1b[0m {}\r\n",
                    i % 8,
                    "w".repeat(i % 70)
                )
                .as_bytes(),
            );
        }
        v
    };
    let scenes: [(&str, Vec<u8>); 3] = [
        ("a", wide),
        // Wide characters wrap here on a character boundary; a wide character split at the
        // edge (vt100 does not mark that row wrapped for -J) is in the reflow test below.
        ("b", "表示 wide chars wrap at the pane edge:\r\n一二三四五六七八九十一二三四五六七八九十\r\nnext\r\n".as_bytes().to_vec()),
        ("c", b"\x1b[?1049h\x1b[Halt screen in a small pane\r\n\x1b[7mreverse\x1b[0m\r\n".to_vec()),
    ];
    for (name, bytes) in &scenes {
        std::fs::write(dir.join(format!("{name}.bytes")), bytes).expect("scene file");
    }
    // a: the first pane (left); b: split right, 30 columns; c: below b, 6 rows. The panes
    // take their final sizes first and the scenes start in them afterwards (respawn-pane),
    // so what they show does not depend on how a resize rewraps (tested on its own below).
    let file = |n: &str| dir.join(format!("{n}.bytes")).display().to_string();
    for (side, run) in [("real", 0), ("ours", 1)] {
        let done = |n: &str| dir.join(format!("{n}.{side}.done")).display().to_string();
        let mut steps: Vec<Vec<String>> = vec![
            [
                "new-session",
                "-d",
                "-s",
                "cap",
                "-x",
                "80",
                "-y",
                "24",
                "sleep",
                "1000",
            ]
            .map(String::from)
            .to_vec(),
            [
                "split-window",
                "-d",
                "-h",
                "-l",
                "30",
                "-t",
                "cap:0.0",
                "sleep",
                "1000",
            ]
            .map(String::from)
            .to_vec(),
            [
                "split-window",
                "-d",
                "-v",
                "-l",
                "6",
                "-t",
                "cap:0.1",
                "sleep",
                "1000",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for (n, pane) in [("a", "cap:0.0"), ("b", "cap:0.1"), ("c", "cap:0.2")] {
            steps.push(
                ["respawn-pane", "-k", "-t", pane]
                    .map(String::from)
                    .into_iter()
                    .chain([script.clone(), file(n), done(n)])
                    .collect(),
            );
        }
        for step in &steps {
            let args: Vec<&str> = step.iter().map(String::as_str).collect();
            let out = if run == 0 {
                p.real.run(&args)
            } else {
                p.ours.run(&args)
            };
            assert!(out.status.success(), "{side} {args:?}: {:?}", text(&out));
        }
        for n in ["a", "b", "c"] {
            let done = std::path::PathBuf::from(done(n));
            wait_until(
                Duration::from_secs(10),
                &format!("{side} scene {n}"),
                || done.exists().then_some(()),
            );
        }
    }
    p.wait_pane("cap:0.0", "left 59");
    p.wait_pane("cap:0.1", "next");
    p.wait_pane("cap:0.2", "reverse");
    p.same(&["list-panes", "-t", "cap", "-F", GEOMETRY]);
    for target in ["cap:0.0", "cap:0.1", "cap:0.2", "cap", "%1"] {
        for flags in [
            vec![],
            vec!["-J"],
            vec!["-S", "-"],
            vec!["-S", "-", "-J"],
            vec!["-S", "-10", "-E", "3"],
            vec!["-a", "-q"],
        ] {
            let mut args = vec!["capture-pane", "-p", "-t", target];
            args.extend(&flags);
            p.same(&args);
        }
        let (r, o) = p.both(&["capture-pane", "-p", "-e", "-S", "-", "-t", target]);
        assert_eq!(
            rendered(&String::from_utf8_lossy(&r.stdout)),
            rendered(&String::from_utf8_lossy(&o.stdout)),
            "capture-pane -e of {target} renders differently"
        );
        p.same(&[
            "display-message",
            "-p",
            "-t",
            target,
            "#{pane_width}x#{pane_height} #{cursor_x},#{cursor_y} #{history_size} #{alternate_on}",
        ]);
    }
    p.same(&["kill-server"]);
}

/// Resizing a pane rewraps what it shows, as tmux's reflow does.
#[test]
fn tmux_panes_resizing_a_pane_rewraps_like_real_tmux() {
    assert!(tmux_available());
    let d = Daemon::start();
    let p = pair(&d, "panereflow");
    let dir = d.dir.path();
    let script = support_bin("tmux_scene.sh");
    let bytes = "表示 wide chars wrap at the pane edge: 一二三四五六七八九十一二三四五六七八九十\r\nnext\r\n";
    std::fs::write(dir.join("r.bytes"), bytes).expect("scene file");
    let file = dir.join("r.bytes").display().to_string();
    for (side, run) in [("real", 0), ("ours", 1)] {
        let done = dir.join(format!("r.{side}.done"));
        let done_s = done.display().to_string();
        let args = [
            "new-session",
            "-d",
            "-s",
            "cap",
            "-x",
            "80",
            "-y",
            "24",
            "sleep",
            "1000",
            ";",
            "split-window",
            "-d",
            "-h",
            "-l",
            "30",
            "-t",
            "cap:0.0",
            script.as_str(),
            file.as_str(),
            done_s.as_str(),
        ];
        let out = if run == 0 {
            p.real.run(&args)
        } else {
            p.ours.run(&args)
        };
        assert!(out.status.success(), "{side}: {:?}", text(&out));
        wait_until(Duration::from_secs(10), &format!("{side} scene"), || {
            done.exists().then_some(())
        });
    }
    p.wait_pane("cap:0.1", "next");
    p.same(&["resize-pane", "-t", "cap:0.1", "-x", "20"]);
    p.wait_pane("cap:0.1", "next");
    p.same(&["capture-pane", "-p", "-J", "-S", "-", "-t", "cap:0.1"]);
    p.same(&["capture-pane", "-p", "-S", "-", "-t", "cap:0.1"]);
    p.same(&["kill-server"]);
}
