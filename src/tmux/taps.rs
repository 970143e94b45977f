//! Following the live output of a set of panes, merged into one stream (control mode's
//! `%output`, the attach compositor's redraws). The set is replaced whenever the panes to
//! follow change.

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::session::SessionHandle;

/// Live output of the panes of the client's session, merged.
#[derive(Default)]
pub struct OutputTaps {
    rx: Option<mpsc::Receiver<(u32, Vec<u8>)>>,
    stop: Option<CancellationToken>,
    /// The keys followed and their panes' Aegis sessions.
    panes: Vec<(u32, uuid::Uuid)>,
}

impl OutputTaps {
    /// Follow these panes, each chunk tagged with its key (no change when they are the ones
    /// already followed under the same keys).
    pub async fn follow(&mut self, handles: Vec<(u32, SessionHandle)>) {
        let ids: Vec<(u32, uuid::Uuid)> = handles.iter().map(|(p, h)| (*p, h.meta.id)).collect();
        if ids == self.panes {
            return;
        }
        self.clear();
        let (tx, rx) = mpsc::channel(256);
        let stop = CancellationToken::new();
        for (pane, handle) in handles {
            let Ok((_, mut sub)) = handle.subscribe().await else {
                continue;
            };
            let (tx, stop) = (tx.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let chunk = tokio::select! {
                        _ = stop.cancelled() => return,
                        c = sub.recv() => c,
                    };
                    match chunk {
                        Ok(bytes) => {
                            if tx.send((pane, bytes.to_vec())).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
        self.rx = Some(rx);
        self.stop = Some(stop);
        self.panes = ids;
    }

    fn clear(&mut self) {
        if let Some(s) = self.stop.take() {
            s.cancel();
        }
        self.rx = None;
        self.panes.clear();
    }

    pub async fn next(&mut self) -> Option<(u32, Vec<u8>)> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }
}
