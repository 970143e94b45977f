//! Following the live output of a set of panes, merged into one stream (control mode's
//! `%output`, the attach compositor's redraws, automatic-rename). The set changes pane by
//! pane: a pane still followed keeps its subscription, so none of its output is lost or
//! repeated when others come or go.

use std::collections::HashMap;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::session::SessionHandle;

/// Chunks waiting between the panes' tasks and the reader.
const PENDING_CHUNKS: usize = 256;

/// Live output of a set of panes, merged, each chunk tagged with its pane's key.
pub struct OutputTaps {
    tx: mpsc::Sender<(u32, Vec<u8>)>,
    rx: mpsc::Receiver<(u32, Vec<u8>)>,
    /// The task following each pane, by its key and its Aegis session.
    followed: HashMap<(u32, Uuid), CancellationToken>,
    /// Panes whose Aegis session started at or after this time (ms) are followed from their
    /// start: they are new, and their first output came before anyone knew of them.
    from_start_after: Option<u64>,
}

impl Default for OutputTaps {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(PENDING_CHUNKS);
        OutputTaps {
            tx,
            rx,
            followed: HashMap::new(),
            from_start_after: None,
        }
    }
}

impl OutputTaps {
    /// Taps that follow panes created from `ms` on from their first output.
    pub fn from_start_after(ms: u64) -> Self {
        let mut taps = OutputTaps::default();
        taps.from_start_after = Some(ms);
        taps
    }

    /// Follow exactly these panes, each chunk tagged with its key.
    pub async fn follow(&mut self, handles: Vec<(u32, SessionHandle)>) {
        let wanted: HashMap<(u32, Uuid), SessionHandle> = handles
            .into_iter()
            .map(|(key, h)| ((key, h.meta.id), h))
            .collect();
        self.followed.retain(|k, stop| {
            let keep = wanted.contains_key(k);
            if !keep {
                stop.cancel();
            }
            keep
        });
        for ((key, id), handle) in wanted {
            if self.followed.contains_key(&(key, id)) {
                continue;
            }
            let from_start = self
                .from_start_after
                .is_some_and(|t| handle.meta.created_at_ms >= t);
            let subscribed = if from_start {
                handle.subscribe_from_start().await
            } else {
                handle.subscribe().await.map(|(_, rx)| (Vec::new(), rx))
            };
            let Ok((first, mut sub)) = subscribed else {
                continue;
            };
            let stop = CancellationToken::new();
            self.followed.insert((key, id), stop.clone());
            let tx = self.tx.clone();
            tokio::spawn(async move {
                if !first.is_empty() && tx.send((key, first)).await.is_err() {
                    return;
                }
                loop {
                    let chunk = tokio::select! {
                        _ = stop.cancelled() => return,
                        c = sub.recv() => c,
                    };
                    match chunk {
                        Ok(bytes) => {
                            if tx.send((key, bytes.to_vec())).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
    }

    pub async fn next(&mut self) -> Option<(u32, Vec<u8>)> {
        self.rx.recv().await
    }
}

impl Drop for OutputTaps {
    fn drop(&mut self) {
        for stop in self.followed.values() {
            stop.cancel();
        }
    }
}
