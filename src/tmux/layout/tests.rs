//! Layout strings recorded from real tmux 3.3a for the same sequences.

use super::custom::{checksum, dump, parse};
use super::nav::{Direction, Placed, neighbour};
use super::set::{MainSizes, build, lookup};
use super::{Dir, Layout, Split};

fn sizes() -> MainSizes {
    MainSizes {
        main_height: "24".into(),
        main_width: "80".into(),
        other_height: "0".into(),
        other_width: "0".into(),
    }
}

#[test]
fn checksum_matches_tmux() {
    assert_eq!(checksum("40x10,0,0,0"), 0x9f5d);
}

#[test]
fn splits_match_tmux() {
    let mut l = Layout::new(0, 80, 24);
    l.split(
        0,
        1,
        Split {
            dir: Dir::LeftRight,
            size: None,
            before: false,
            full: false,
        },
    )
    .expect("room");
    assert_eq!(dump(&l), "8205,80x24,0,0{40x24,0,0,0,39x24,41,0,1}");
    l.split(
        0,
        2,
        Split {
            dir: Dir::TopBottom,
            size: Some(5),
            before: false,
            full: false,
        },
    )
    .expect("room");
    l.split(
        1,
        3,
        Split {
            dir: Dir::TopBottom,
            size: Some(3),
            before: true,
            full: false,
        },
    )
    .expect("room");
    assert_eq!(
        dump(&l),
        "3939,80x24,0,0{40x24,0,0[40x18,0,0,0,40x5,0,19,2],39x24,41,0[39x3,41,0,3,39x20,41,4,1]}"
    );
}

#[test]
fn named_layouts_match_tmux() {
    // Window order: %0, %2, %3, %1.
    let order = [0, 2, 3, 1];
    let cases = [
        (
            "tiled",
            "b156,80x24,0,0[80x11,0,0{39x11,0,0,0,40x11,40,0,2},80x12,0,12{39x12,0,12,3,40x12,40,12,1}]",
        ),
        (
            "main-vertical",
            "d6a7,80x24,0,0{78x24,0,0,0,1x24,79,0[1x7,79,0,2,1x7,79,8,3,1x8,79,16,1]}",
        ),
        (
            "main-horizontal",
            "c328,80x24,0,0[80x22,0,0,0,80x1,0,23{26x1,0,23,2,26x1,27,23,3,26x1,54,23,1}]",
        ),
        (
            "even-vertical",
            "a147,80x24,0,0[80x5,0,0,0,80x5,0,6,2,80x5,0,12,3,80x6,0,18,1]",
        ),
    ];
    for (name, want) in cases {
        let which = lookup(name).expect("known layout");
        let l = build(which, &order, 80, 24, &sizes()).expect("several panes");
        assert_eq!(dump(&l), want, "{name}");
    }
    assert_eq!(lookup("even"), None);
    assert_eq!(lookup("even-h"), Some(0));
}

#[test]
fn closing_and_full_splits_match_tmux() {
    let order = [0, 2, 3, 1];
    let mut l = build(1, &order, 80, 24, &sizes()).expect("even-vertical");
    assert!(l.close(2));
    assert_eq!(
        dump(&l),
        "5475,80x24,0,0[80x11,0,0,0,80x5,0,12,3,80x6,0,18,1]"
    );
    l.split(
        0,
        4,
        Split {
            dir: Dir::LeftRight,
            size: Some(10),
            before: false,
            full: true,
        },
    )
    .expect("room");
    assert_eq!(
        dump(&l),
        "10a2,80x24,0,0{69x24,0,0[69x11,0,0,0,69x5,0,12,3,69x6,0,18,1],10x24,70,0,4}"
    );
    l.resize_pane_to(0, Dir::TopBottom, 3);
    assert_eq!(
        dump(&l),
        "76fd,80x24,0,0{69x24,0,0[69x3,0,0,0,69x13,0,4,3,69x6,0,18,1],10x24,70,0,4}"
    );
}

#[test]
fn layout_strings_round_trip_and_errors() {
    let text =
        "3939,80x24,0,0{40x24,0,0[40x18,0,0,0,40x5,0,19,2],39x24,41,0[39x3,41,0,3,39x20,41,4,1]}";
    let l = parse(text, &[0, 2, 3, 1]).expect("valid");
    assert_eq!(dump(&l), text);
    // Fewer panes than cells: the bottom-right cells go.
    let l = parse(text, &[0, 2]).expect("valid");
    assert_eq!(l.panes(), vec![0, 2]);
    assert_eq!(
        parse(text, &[0, 1, 2, 3, 4]).err().as_deref(),
        Some("have 5 panes but need 4")
    );
    assert_eq!(
        parse("ffff,80x24,0,0,1", &[0]).err().as_deref(),
        Some("invalid layout")
    );
    assert_eq!(
        parse("nonsense", &[0]).err().as_deref(),
        Some("invalid layout")
    );
}

#[test]
fn neighbours_wrap_and_prefer_the_most_recent() {
    let l = parse(
        "3939,80x24,0,0{40x24,0,0[40x18,0,0,0,40x5,0,19,2],39x24,41,0[39x3,41,0,3,39x20,41,4,1]}",
        &[0, 2, 3, 1],
    )
    .expect("valid");
    let placed: Vec<Placed> = l
        .geometry()
        .into_iter()
        .map(|(id, at)| Placed {
            id,
            at,
            active_point: u64::from(id),
        })
        .collect();
    assert_eq!(neighbour(&placed, 0, Direction::Down, 80, 24), Some(2));
    assert_eq!(neighbour(&placed, 0, Direction::Up, 80, 24), Some(2));
    // Both %3 and %1 touch %0's right edge; %3 was active more recently.
    assert_eq!(neighbour(&placed, 0, Direction::Right, 80, 24), Some(3));
    assert_eq!(neighbour(&placed, 1, Direction::Left, 80, 24), Some(2));
}
