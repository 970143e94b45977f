//! Consensus reviews: N reviewer sessions judge a parent session's work against named
//! criteria, and the majority decides.
//!
//! Each reviewer is a child of the parent (same workDir) and gets one prompt: the criteria,
//! the parent's work — `git diff HEAD` of the workDir (run from an argv, no shell, bounded in
//! time and size) and the parent's last output — and the instruction to end with the verdict
//! line of [`super::text`]. Its screen is read whenever it goes idle until a valid verdict
//! line appears. The review ends when every reviewer answered, or at the timeout with the
//! verdicts received so far (never hangs); either way `consensus.completed` is published and
//! the reviewer sessions are killed.
//!
//! Majority rule: approve when strictly more reviewers approved than rejected; a tie (or no
//! verdict at all) is not an approval, and the result says so in `tie` and `explanation`.
//! Per criterion, the same rule gives pass or fail.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use super::text::{Verdict, parse_verdict};
use super::{Role, lock};
use crate::clock::now_ms;
use crate::events::detail::ConsensusOutcome;
use crate::events::{EventDetail, EventKind};
use crate::session::{CreateSpec, SessionHandle};
use crate::vocab::SessionStatus;

/// Most reviewers per review (v0.3 allowed 5); each is a live agent session.
pub const MAX_REVIEWERS: usize = 9;

/// Default review timeout: long enough for an agent to read a diff and answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Bound on `git diff`: a review of a huge diff is useless, and a hung git must not hang
/// the review. Only this many bytes of it are kept (the agent is told it was cut).
pub const MAX_DIFF_BYTES: usize = 64 * 1024;
const GIT_TIMEOUT: Duration = Duration::from_secs(20);

/// How often a reviewer's screen is re-read even without a status change, in case the
/// detector held `idle` across the verdict redraw.
const RECHECK: Duration = Duration::from_secs(1);

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStatus {
    Running,
    /// Every reviewer answered (or failed).
    Completed,
    /// The timeout came first; the verdicts received by then decided.
    TimedOut,
}

impl ReviewStatus {
    pub const ALL: [ReviewStatus; 3] = [
        ReviewStatus::Running,
        ReviewStatus::Completed,
        ReviewStatus::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Running => "running",
            ReviewStatus::Completed => "completed",
            ReviewStatus::TimedOut => "timed_out",
        }
    }
}

/// Where one reviewer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewerStatus {
    Running,
    /// Its verdict is in.
    Done,
    /// No verdict by the timeout.
    TimedOut,
    /// It could not start, or exited without a verdict.
    Failed,
}

impl ReviewerStatus {
    pub const ALL: [ReviewerStatus; 4] = [
        ReviewerStatus::Running,
        ReviewerStatus::Done,
        ReviewerStatus::TimedOut,
        ReviewerStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewerStatus::Running => "running",
            ReviewerStatus::Done => "done",
            ReviewerStatus::TimedOut => "timed_out",
            ReviewerStatus::Failed => "failed",
        }
    }
}

/// A verdict: a reviewer's, or the review's by the majority rule (`None`: no reviewer gave
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    None,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::Approve, Decision::Reject, Decision::None];

    /// What one reviewer may decide.
    pub const VOTES: [Decision; 2] = [Decision::Approve, Decision::Reject];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::None => "none",
        }
    }
}

/// How a criterion fared: with one reviewer, or by the majority of them (`Tie`, or
/// `Unknown` when no reviewer judged it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Pass,
    Fail,
    Tie,
    Unknown,
}

impl Mark {
    pub const ALL: [Mark; 4] = [Mark::Pass, Mark::Fail, Mark::Tie, Mark::Unknown];

    /// What one reviewer may say of a criterion.
    pub const JUDGED: [Mark; 2] = [Mark::Pass, Mark::Fail];

    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::Fail => "fail",
            Mark::Tie => "tie",
            Mark::Unknown => "unknown",
        }
    }
}

/// One reviewer as the review sees it.
#[derive(Debug, Clone)]
pub struct ReviewerView {
    /// Its place among the reviewers (`AEGIS_REVIEWER_INDEX` in its environment).
    pub index: usize,
    /// Set once its session started.
    pub session_id: Option<Uuid>,
    pub status: ReviewerStatus,
    /// Approve or reject, once its verdict is in.
    pub verdict: Option<Decision>,
    /// Pass or fail per criterion, as the reviewer judged it.
    pub criteria: BTreeMap<String, Mark>,
    /// The reason its verdict line gave.
    pub reason: Option<String>,
    /// Why it gave no verdict (it could not start, or exited).
    pub error: Option<String>,
}

/// One criterion over every verdict received.
#[derive(Debug, Clone, Copy)]
pub struct CriterionView {
    pub pass: usize,
    pub fail: usize,
    pub result: Mark,
}

/// A review: its reviewers, and the majority's verdict once it finished.
#[derive(Debug, Clone)]
pub struct ConsensusView {
    pub id: Uuid,
    pub parent_id: Uuid,
    pub status: ReviewStatus,
    pub criteria: Vec<String>,
    pub reviewers: Vec<ReviewerView>,
    pub verdict: Option<Decision>,
    pub approvals: usize,
    pub rejections: usize,
    pub tie: bool,
    pub explanation: Option<String>,
    pub per_criterion: BTreeMap<String, CriterionView>,
    pub created_at: u64,
    pub finished_at: Option<u64>,
    pub timeout_ms: u64,
}

pub struct Review {
    pub id: Uuid,
    state: Mutex<ConsensusView>,
}

impl Review {
    pub fn view(&self) -> ConsensusView {
        lock(&self.state).clone()
    }
}

impl super::Group for Review {
    fn id(&self) -> Uuid {
        self.id
    }
    fn finished(&self) -> bool {
        self.view().finished_at.is_some()
    }
}

/// `git diff HEAD` of `dir` (falling back to `git diff` in a repository without commits),
/// or a sentence saying why there is none.
///
/// git runs through [`crate::pty::run::run`], like every helper program: the daemon's reaper
/// calls `waitpid(-1)`, so a plain `tokio::process` wait would race it and fail with ECHILD
/// (which it did, under load, leaving reviewers without the diff).
pub async fn git_diff(dir: &Path) -> String {
    async fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
        let argv: Vec<String> = ["git", "diff", "--no-color", "--no-ext-diff"]
            .iter()
            .chain(args)
            .map(|a| (*a).to_owned())
            .collect();
        // One byte over the bound tells a cut diff from one that fits exactly.
        let env = [("GIT_TERMINAL_PROMPT", "0")];
        match crate::pty::run::run(&argv, dir, &env, GIT_TIMEOUT, MAX_DIFF_BYTES + 1).await {
            Err(e) => Err(format!("git could not run: {e}")),
            Ok(o) if o.timed_out => {
                Err(format!("git took longer than {} s", GIT_TIMEOUT.as_secs()))
            }
            Ok(o) if o.success() => Ok(o.tail),
            Ok(o) => Err(o
                .tail_text()
                .lines()
                .next()
                .unwrap_or("git failed")
                .to_owned()),
        }
    }
    let out = match git(dir, &["HEAD"]).await {
        Ok(o) => Ok(o),
        Err(_) => git(dir, &[]).await,
    };
    match out {
        Ok(bytes) if bytes.is_empty() => "(no changes: git diff is empty)".into(),
        Ok(bytes) if bytes.len() > MAX_DIFF_BYTES => {
            // The run keeps the end of the output; say so rather than show a silent cut.
            let kept = &bytes[bytes.len() - MAX_DIFF_BYTES..];
            format!(
                "(diff longer than 64 KiB: its last 64 KiB follow)\n{}",
                String::from_utf8_lossy(kept)
            )
        }
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => format!("(no git diff: {e})"),
    }
}

/// The reviewer's prompt.
pub fn prompt(criteria: &[String], diff: &str, parent_output: &str) -> String {
    let mut p = String::new();
    p.push_str("You are reviewing another agent's work. Judge it against each criterion.\n\n");
    p.push_str("Criteria:\n");
    for c in criteria {
        p.push_str(&format!("- {c}\n"));
    }
    p.push_str("\nThe workDir's changes (git diff):\n");
    p.push_str(diff);
    p.push_str("\n\nThe agent's last output:\n");
    p.push_str(if parent_output.is_empty() {
        "(none)"
    } else {
        parent_output
    });
    p.push_str(
        "\n\nEnd your reply with exactly one line of this form, with every criterion named \
         above and pass or fail for each:\n",
    );
    p.push_str(
        "VERDICT: {\"criteria\":{\"<criterion>\":\"pass|fail\"},\"verdict\":\"approve|reject\",\"reason\":\"<one sentence>\"}\n",
    );
    p
}

/// Start a review in the background. `reviewer_spec` is the reviewers' session recipe (the
/// prompt is added here).
pub async fn start(
    ctx: super::Context,
    parent: SessionHandle,
    criteria: Vec<String>,
    reviewers: usize,
    reviewer_spec: CreateSpec,
    timeout: Duration,
) -> Arc<Review> {
    let id = Uuid::new_v4();
    let view = ConsensusView {
        id,
        parent_id: parent.meta.id,
        status: ReviewStatus::Running,
        criteria: criteria.clone(),
        reviewers: (0..reviewers)
            .map(|index| ReviewerView {
                index,
                session_id: None,
                status: ReviewerStatus::Running,
                verdict: None,
                criteria: BTreeMap::new(),
                reason: None,
                error: None,
            })
            .collect(),
        verdict: None,
        approvals: 0,
        rejections: 0,
        tie: false,
        explanation: None,
        per_criterion: BTreeMap::new(),
        created_at: now_ms(),
        finished_at: None,
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
    };
    let review = Arc::new(Review {
        id,
        state: Mutex::new(view),
    });
    ctx.orch.reviews.add(review.clone());
    let r = review.clone();
    let tasks = ctx.tasks.clone();
    tasks.spawn(async move {
        let diff = git_diff(&parent.meta.work_dir).await;
        let out = super::last_output(&parent).await;
        let text = prompt(&criteria, &diff, &out);
        let deadline = tokio::time::Instant::now() + timeout;
        let jobs = (0..reviewers).map(|i| {
            let mut spec = reviewer_spec.clone();
            spec.prompt = Some(text.clone());
            spec.parent_id = Some(parent.meta.id);
            spec.env
                .push(("AEGIS_REVIEWER_INDEX".into(), i.to_string()));
            run_reviewer(&ctx, &r, i, spec, deadline)
        });
        let handles = futures_util::future::join_all(jobs).await;
        conclude(&ctx, &parent, &r);
        for h in handles.into_iter().flatten() {
            let _ = h.kill().await;
        }
    });
    review
}

async fn run_reviewer(
    ctx: &super::Context,
    r: &Review,
    index: usize,
    spec: CreateSpec,
    deadline: tokio::time::Instant,
) -> Option<SessionHandle> {
    let set = |f: &dyn Fn(&mut ReviewerView)| f(&mut lock(&r.state).reviewers[index]);
    let created = tokio::time::timeout_at(deadline, async {
        let role = Role::Reviewer {
            consensus: r.id,
            index,
        };
        let (h, prompt) = super::launch_member(ctx, spec, role).await?;
        let id = h.meta.id;
        set(&|v| v.session_id = Some(id));
        super::deliver(ctx, &h, prompt).await;
        Ok::<_, crate::session::manager::SessionError>(h)
    })
    .await;
    let h = match created {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            let msg = e.to_string();
            set(&|v| {
                v.status = ReviewerStatus::Failed;
                v.error = Some(msg.clone());
            });
            return None;
        }
        Err(_) => {
            set(&|v| v.status = ReviewerStatus::TimedOut);
            return None;
        }
    };
    let mut watch = h.watch();
    loop {
        let st = h.status();
        if matches!(
            st,
            SessionStatus::Idle | SessionStatus::Exited | SessionStatus::Error
        ) && let Some(v) = parse_verdict(&super::screen_text(&h).await)
        {
            record(r, index, v);
            return Some(h);
        }
        if st == SessionStatus::Exited {
            set(&|v| {
                v.status = ReviewerStatus::Failed;
                v.error = Some("the reviewer exited without a verdict".into());
            });
            return Some(h);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                // One last look: a verdict printed just now still counts.
                if let Some(v) = parse_verdict(&super::screen_text(&h).await) {
                    record(r, index, v);
                } else {
                    set(&|v| v.status = ReviewerStatus::TimedOut);
                }
                return Some(h);
            }
            _ = watch.changed() => {}
            _ = tokio::time::sleep(RECHECK) => {}
        }
    }
}

fn record(r: &Review, index: usize, v: Verdict) {
    let mut s = lock(&r.state);
    let rv = &mut s.reviewers[index];
    rv.status = ReviewerStatus::Done;
    rv.verdict = Some(if v.approve {
        Decision::Approve
    } else {
        Decision::Reject
    });
    rv.criteria = v
        .criteria
        .into_iter()
        .map(|(k, pass)| (k, if pass { Mark::Pass } else { Mark::Fail }))
        .collect();
    rv.reason = Some(v.reason);
}

/// Apply the majority rule to the verdicts received, publish `consensus.completed`.
fn conclude(ctx: &super::Context, parent: &SessionHandle, r: &Review) {
    let view = {
        let mut s = lock(&r.state);
        let done: Vec<&ReviewerView> = s
            .reviewers
            .iter()
            .filter(|v| v.status == ReviewerStatus::Done)
            .collect();
        let approvals = done
            .iter()
            .filter(|v| v.verdict == Some(Decision::Approve))
            .count();
        let rejections = done.len() - approvals;
        let missing = s.reviewers.len() - done.len();
        let mut per = BTreeMap::new();
        for c in &s.criteria {
            let pass = done
                .iter()
                .filter(|v| v.criteria.get(c) == Some(&Mark::Pass))
                .count();
            let fail = done
                .iter()
                .filter(|v| v.criteria.get(c) == Some(&Mark::Fail))
                .count();
            let result = match (pass, fail) {
                (0, 0) => Mark::Unknown,
                (p, f) if p > f => Mark::Pass,
                (p, f) if p < f => Mark::Fail,
                _ => Mark::Tie,
            };
            per.insert(c.clone(), CriterionView { pass, fail, result });
        }
        let (verdict, tie, explanation) = if done.is_empty() {
            (
                Decision::None,
                false,
                "no reviewer returned a verdict before the timeout".to_owned(),
            )
        } else if approvals > rejections {
            (
                Decision::Approve,
                false,
                format!("{approvals} of {} verdicts approve", done.len()),
            )
        } else if approvals < rejections {
            (
                Decision::Reject,
                false,
                format!("{rejections} of {} verdicts reject", done.len()),
            )
        } else {
            (
                Decision::Reject,
                true,
                format!(
                    "tie: {approvals} approve and {rejections} reject; approval needs a strict majority, so the tie rejects"
                ),
            )
        };
        let explanation = if missing > 0 {
            format!(
                "{explanation} ({missing} of {} reviewers gave no verdict)",
                s.reviewers.len()
            )
        } else {
            explanation
        };
        s.per_criterion = per;
        s.approvals = approvals;
        s.rejections = rejections;
        s.verdict = Some(verdict);
        s.tie = tie;
        s.explanation = Some(explanation);
        let timed_out = s
            .reviewers
            .iter()
            .any(|v| v.status == ReviewerStatus::TimedOut);
        s.status = if timed_out {
            ReviewStatus::TimedOut
        } else {
            ReviewStatus::Completed
        };
        s.finished_at = Some(now_ms());
        s.clone()
    };
    tracing::info!(consensus = %r.id, verdict = ?view.verdict, status = view.status.as_str(), "consensus finished");
    ctx.sessions.bus.publish(
        EventKind::ConsensusCompleted,
        &parent.meta,
        None,
        None,
        EventDetail::ConsensusCompleted(ConsensusOutcome {
            consensus_id: view.id,
            status: view.status.as_str(),
            verdict: view.verdict.map(Decision::as_str),
            approvals: view.approvals,
            rejections: view.rejections,
            tie: view.tie,
            explanation: view.explanation,
        }),
    );
}
