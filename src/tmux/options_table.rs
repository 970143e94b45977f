//! tmux 3.3a's options: each name with its scope, type and default value, in tmux's table
//! order (which `show-options` follows and prefix matching depends on). Hooks are options
//! too; they count for prefix matching and are stored, never run. Two defaults differ from
//! tmux's: `default-shell` is set from the client's `$SHELL` when a server starts, and
//! `status-format` is a shorter format of our own (the attach compositor draws its status
//! line from it).

use super::options::Kind::{self, *};
use super::options::Scope::{self, *};

/// One option.
pub struct Opt {
    pub name: &'static str,
    pub scope: Scope,
    pub kind: Kind,
    /// The default value; array options have one item per element.
    pub default: &'static [&'static str],
}

const fn o(name: &'static str, scope: Scope, kind: Kind, default: &'static [&'static str]) -> Opt {
    Opt {
        name,
        scope,
        kind,
        default,
    }
}

const INT_MAX: i64 = 2_147_483_647;
const SHRT_MAX: i64 = 32_767;
const USHRT_MAX: i64 = 65_535;

const MODE_KEYS: &[&str] = &["emacs", "vi"];
const CLOCK_MODE_STYLE: &[&str] = &["12", "24"];
const STATUS: &[&str] = &["off", "on", "2", "3", "4", "5"];
const STATUS_KEYS: &[&str] = &["emacs", "vi"];
const STATUS_JUSTIFY: &[&str] = &["left", "centre", "right", "absolute-centre"];
const STATUS_POSITION: &[&str] = &["top", "bottom"];
const BELL_ACTION: &[&str] = &["none", "any", "current", "other"];
const VISUAL_BELL: &[&str] = &["off", "on", "both"];
const CURSOR_STYLE: &[&str] = &[
    "default",
    "blinking-block",
    "block",
    "blinking-underline",
    "underline",
    "blinking-bar",
    "bar",
];
const PANE_STATUS: &[&str] = &["off", "top", "bottom"];
const PANE_BORDER_INDICATORS: &[&str] = &["off", "colour", "arrows", "both"];
const PANE_BORDER_LINES: &[&str] = &["single", "double", "heavy", "simple", "number"];
const POPUP_BORDER_LINES: &[&str] = &[
    "single", "double", "heavy", "simple", "rounded", "padded", "none",
];
const SET_CLIPBOARD: &[&str] = &["off", "external", "on"];
const WINDOW_SIZE: &[&str] = &["largest", "smallest", "manual", "latest"];
const REMAIN_ON_EXIT: &[&str] = &["off", "on", "failed"];
const DETACH_ON_DESTROY: &[&str] = &["off", "on", "no-detached"];
const EXTENDED_KEYS: &[&str] = &["off", "on", "always"];

/// Every option, in tmux's order.
pub const OPTIONS: &[Opt] = &[
    o("backspace", Server, Key, &["C-?"]),
    o("buffer-limit", Server, Number(1, INT_MAX), &["50"]),
    o(
        "command-alias",
        Server,
        Array(&Str),
        &[
            "split-pane=split-window",
            "splitp=split-window",
            "server-info=show-messages -JT",
            "info=show-messages -JT",
            "choose-window=choose-tree -w",
            "choose-session=choose-tree -s",
        ],
    ),
    o("copy-command", Server, Str, &[""]),
    o("cursor-colour", Pane, Colour, &["none"]),
    o("cursor-style", Pane, Choice(CURSOR_STYLE), &["default"]),
    o("default-terminal", Server, Str, &["tmux-256color"]),
    o("editor", Server, Str, &["/usr/bin/vi"]),
    o("escape-time", Server, Number(0, INT_MAX), &["500"]),
    o("exit-empty", Server, Flag, &["on"]),
    o("exit-unattached", Server, Flag, &["off"]),
    o("extended-keys", Server, Choice(EXTENDED_KEYS), &["off"]),
    o("focus-events", Server, Flag, &["off"]),
    o("history-file", Server, Str, &[""]),
    o("message-limit", Server, Number(0, INT_MAX), &["1000"]),
    o("prompt-history-limit", Server, Number(0, INT_MAX), &["100"]),
    o(
        "set-clipboard",
        Server,
        Choice(SET_CLIPBOARD),
        &["external"],
    ),
    o("terminal-overrides", Server, Array(&Str), &[]),
    o(
        "terminal-features",
        Server,
        Array(&Str),
        &[
            "xterm*:clipboard:ccolour:cstyle:focus:title",
            "screen*:title",
        ],
    ),
    o("user-keys", Server, Array(&Str), &[]),
    o("activity-action", Session, Choice(BELL_ACTION), &["other"]),
    o("assume-paste-time", Session, Number(0, INT_MAX), &["1"]),
    o("base-index", Session, Number(0, INT_MAX), &["0"]),
    o("bell-action", Session, Choice(BELL_ACTION), &["any"]),
    o("default-command", Session, Str, &[""]),
    o("default-shell", Session, Str, &["/bin/sh"]),
    o("default-size", Session, Str, &["80x24"]),
    o("destroy-unattached", Session, Flag, &["off"]),
    o(
        "detach-on-destroy",
        Session,
        Choice(DETACH_ON_DESTROY),
        &["on"],
    ),
    o("display-panes-active-colour", Session, Colour, &["red"]),
    o("display-panes-colour", Session, Colour, &["blue"]),
    o("display-panes-time", Session, Number(1, INT_MAX), &["1000"]),
    o("display-time", Session, Number(0, INT_MAX), &["750"]),
    o("history-limit", Session, Number(0, INT_MAX), &["2000"]),
    o("key-table", Session, Str, &["root"]),
    o("lock-after-time", Session, Number(0, INT_MAX), &["0"]),
    o("lock-command", Session, Str, &["lock -np"]),
    o(
        "message-command-style",
        Session,
        Str,
        &["bg=black,fg=yellow"],
    ),
    o("message-style", Session, Str, &["bg=yellow,fg=black"]),
    o("mouse", Session, Flag, &["off"]),
    o("prefix", Session, Key, &["C-b"]),
    o("prefix2", Session, Key, &["None"]),
    o("renumber-windows", Session, Flag, &["off"]),
    o("repeat-time", Session, Number(0, SHRT_MAX), &["500"]),
    o("set-titles", Session, Flag, &["off"]),
    o(
        "set-titles-string",
        Session,
        Str,
        &["#S:#I:#W - \"#T\" #{session_alerts}"],
    ),
    o("silence-action", Session, Choice(BELL_ACTION), &["other"]),
    o("status", Session, Choice(STATUS), &["on"]),
    o("status-bg", Session, Colour, &["default"]),
    o("status-fg", Session, Colour, &["default"]),
    o(
        "status-format",
        Session,
        Array(&Str),
        &[
            "#[align=left]#{T:status-left}#[align=centre]#{W:#{T:window-status-format} ,#{T:window-status-current-format} }#[align=right]#{T:status-right}",
        ],
    ),
    o("status-interval", Session, Number(0, INT_MAX), &["15"]),
    o("status-justify", Session, Choice(STATUS_JUSTIFY), &["left"]),
    o("status-keys", Session, Choice(STATUS_KEYS), &["emacs"]),
    o("status-left", Session, Str, &["[#{session_name}] "]),
    o("status-left-length", Session, Number(0, SHRT_MAX), &["10"]),
    o("status-left-style", Session, Str, &["default"]),
    o(
        "status-position",
        Session,
        Choice(STATUS_POSITION),
        &["bottom"],
    ),
    o(
        "status-right",
        Session,
        Str,
        &[
            "#{?window_bigger,[#{window_offset_x}#,#{window_offset_y}] ,}\"#{=21:pane_title}\" %H:%M %d-%b-%y",
        ],
    ),
    o("status-right-length", Session, Number(0, SHRT_MAX), &["40"]),
    o("status-right-style", Session, Str, &["default"]),
    o("status-style", Session, Str, &["bg=green,fg=black"]),
    o(
        "update-environment",
        Session,
        Array(&Str),
        &[
            "DISPLAY",
            "KRB5CCNAME",
            "SSH_ASKPASS",
            "SSH_AUTH_SOCK",
            "SSH_AGENT_PID",
            "SSH_CONNECTION",
            "WINDOWID",
            "XAUTHORITY",
        ],
    ),
    o("visual-activity", Session, Choice(VISUAL_BELL), &["off"]),
    o("visual-bell", Session, Choice(VISUAL_BELL), &["off"]),
    o("visual-silence", Session, Choice(VISUAL_BELL), &["off"]),
    o(
        "word-separators",
        Session,
        Str,
        &["!\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~"],
    ),
    o("aggressive-resize", Window, Flag, &["off"]),
    o("allow-passthrough", Pane, Flag, &["off"]),
    o("allow-rename", Pane, Flag, &["off"]),
    o("alternate-screen", Pane, Flag, &["on"]),
    o("automatic-rename", Window, Flag, &["on"]),
    o(
        "automatic-rename-format",
        Window,
        Str,
        &["#{?pane_in_mode,[tmux],#{pane_current_command}}#{?pane_dead,[dead],}"],
    ),
    o("clock-mode-colour", Window, Colour, &["blue"]),
    o(
        "clock-mode-style",
        Window,
        Choice(CLOCK_MODE_STYLE),
        &["24"],
    ),
    o("copy-mode-match-style", Window, Str, &["bg=cyan,fg=black"]),
    o(
        "copy-mode-current-match-style",
        Window,
        Str,
        &["bg=magenta,fg=black"],
    ),
    o("copy-mode-mark-style", Window, Str, &["bg=red,fg=black"]),
    o("fill-character", Window, Str, &[""]),
    o("main-pane-height", Window, Str, &["24"]),
    o("main-pane-width", Window, Str, &["80"]),
    o("mode-keys", Window, Choice(MODE_KEYS), &["emacs"]),
    o("mode-style", Window, Str, &["bg=yellow,fg=black"]),
    o("monitor-activity", Window, Flag, &["off"]),
    o("monitor-bell", Window, Flag, &["on"]),
    o("monitor-silence", Window, Number(0, INT_MAX), &["0"]),
    o("other-pane-height", Window, Str, &["0"]),
    o("other-pane-width", Window, Str, &["0"]),
    o(
        "pane-active-border-style",
        Window,
        Str,
        &["#{?pane_in_mode,fg=yellow,#{?synchronize-panes,fg=red,fg=green}}"],
    ),
    o("pane-base-index", Window, Number(0, USHRT_MAX), &["0"]),
    o(
        "pane-border-format",
        Pane,
        Str,
        &["#{?pane_active,#[reverse],}#{pane_index}#[default] \"#{pane_title}\""],
    ),
    o(
        "pane-border-indicators",
        Window,
        Choice(PANE_BORDER_INDICATORS),
        &["colour"],
    ),
    o(
        "pane-border-lines",
        Window,
        Choice(PANE_BORDER_LINES),
        &["single"],
    ),
    o("pane-border-status", Window, Choice(PANE_STATUS), &["off"]),
    o("pane-border-style", Window, Str, &["default"]),
    o("pane-colours", Pane, Array(&Colour), &[]),
    o("popup-style", Window, Str, &["default"]),
    o("popup-border-style", Window, Str, &["default"]),
    o(
        "popup-border-lines",
        Window,
        Choice(POPUP_BORDER_LINES),
        &["single"],
    ),
    o("remain-on-exit", Pane, Choice(REMAIN_ON_EXIT), &["off"]),
    o(
        "remain-on-exit-format",
        Pane,
        Str,
        &[
            "Pane is dead (#{?#{!=:#{pane_dead_status},},status #{pane_dead_status},}#{?#{!=:#{pane_dead_signal},},signal #{pane_dead_signal},}, #{t:pane_dead_time})",
        ],
    ),
    o("scroll-on-clear", Pane, Flag, &["on"]),
    o("synchronize-panes", Pane, Flag, &["off"]),
    o("window-active-style", Pane, Str, &["default"]),
    o("window-size", Window, Choice(WINDOW_SIZE), &["latest"]),
    o("window-style", Pane, Str, &["default"]),
    o("window-status-activity-style", Window, Str, &["reverse"]),
    o("window-status-bell-style", Window, Str, &["reverse"]),
    o(
        "window-status-current-format",
        Window,
        Str,
        &["#I:#W#{?window_flags,#{window_flags}, }"],
    ),
    o("window-status-current-style", Window, Str, &["default"]),
    o(
        "window-status-format",
        Window,
        Str,
        &["#I:#W#{?window_flags,#{window_flags}, }"],
    ),
    o("window-status-last-style", Window, Str, &["default"]),
    o("window-status-separator", Window, Str, &[" "]),
    o("window-status-style", Window, Str, &["default"]),
    o("wrap-search", Window, Flag, &["on"]),
    o("xterm-keys", Window, Flag, &["on"]),
    o("after-bind-key", Session, Hook, &[]),
    o("after-capture-pane", Session, Hook, &[]),
    o("after-copy-mode", Session, Hook, &[]),
    o("after-display-message", Session, Hook, &[]),
    o("after-display-panes", Session, Hook, &[]),
    o("after-kill-pane", Session, Hook, &[]),
    o("after-list-buffers", Session, Hook, &[]),
    o("after-list-clients", Session, Hook, &[]),
    o("after-list-keys", Session, Hook, &[]),
    o("after-list-panes", Session, Hook, &[]),
    o("after-list-sessions", Session, Hook, &[]),
    o("after-list-windows", Session, Hook, &[]),
    o("after-load-buffer", Session, Hook, &[]),
    o("after-lock-server", Session, Hook, &[]),
    o("after-new-session", Session, Hook, &[]),
    o("after-new-window", Session, Hook, &[]),
    o("after-paste-buffer", Session, Hook, &[]),
    o("after-pipe-pane", Session, Hook, &[]),
    o("after-queue", Session, Hook, &[]),
    o("after-refresh-client", Session, Hook, &[]),
    o("after-rename-session", Session, Hook, &[]),
    o("after-rename-window", Session, Hook, &[]),
    o("after-resize-pane", Session, Hook, &[]),
    o("after-resize-window", Session, Hook, &[]),
    o("after-save-buffer", Session, Hook, &[]),
    o("after-select-layout", Session, Hook, &[]),
    o("after-select-pane", Session, Hook, &[]),
    o("after-select-window", Session, Hook, &[]),
    o("after-send-keys", Session, Hook, &[]),
    o("after-set-buffer", Session, Hook, &[]),
    o("after-set-environment", Session, Hook, &[]),
    o("after-set-hook", Session, Hook, &[]),
    o("after-set-option", Session, Hook, &[]),
    o("after-show-environment", Session, Hook, &[]),
    o("after-show-messages", Session, Hook, &[]),
    o("after-show-options", Session, Hook, &[]),
    o("after-split-window", Session, Hook, &[]),
    o("after-unbind-key", Session, Hook, &[]),
    o("alert-activity", Session, Hook, &[]),
    o("alert-bell", Session, Hook, &[]),
    o("alert-silence", Session, Hook, &[]),
    o("client-active", Session, Hook, &[]),
    o("client-attached", Session, Hook, &[]),
    o("client-detached", Session, Hook, &[]),
    o("client-focus-in", Session, Hook, &[]),
    o("client-focus-out", Session, Hook, &[]),
    o("client-resized", Session, Hook, &[]),
    o("client-session-changed", Session, Hook, &[]),
    o("pane-died", Session, Hook, &[]),
    o("pane-exited", Session, Hook, &[]),
    o("pane-focus-in", Session, Hook, &[]),
    o("pane-focus-out", Session, Hook, &[]),
    o("pane-mode-changed", Session, Hook, &[]),
    o("pane-set-clipboard", Session, Hook, &[]),
    o("pane-title-changed", Session, Hook, &[]),
    o("session-closed", Session, Hook, &[]),
    o("session-created", Session, Hook, &[]),
    o("session-renamed", Session, Hook, &[]),
    o("session-window-changed", Session, Hook, &[]),
    o("window-layout-changed", Session, Hook, &[]),
    o("window-linked", Session, Hook, &[]),
    o("window-pane-changed", Session, Hook, &[]),
    o("window-renamed", Session, Hook, &[]),
    o("window-resized", Session, Hook, &[]),
    o("window-unlinked", Session, Hook, &[]),
];

/// Old spellings tmux still accepts.
pub const ALIASES: &[(&str, &str)] = &[
    ("display-panes-color", "display-panes-colour"),
    ("display-panes-active-color", "display-panes-active-colour"),
    ("clock-mode-color", "clock-mode-colour"),
    ("cursor-color", "cursor-colour"),
    ("pane-colors", "pane-colours"),
];
