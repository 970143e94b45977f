//! Paste buffers as a tmux server keeps them: named or automatic (`bufferN`), newest first,
//! with at most `buffer-limit` automatic ones (the oldest automatic buffer goes first).

/// One buffer.
#[derive(Debug, Clone)]
pub struct Buffer {
    pub name: String,
    pub data: Vec<u8>,
    pub created_ms: u64,
    pub automatic: bool,
}

#[derive(Debug, Default)]
pub struct Buffers {
    /// Newest first.
    pub list: Vec<Buffer>,
    next_automatic: u32,
}

impl Buffers {
    pub fn get(&self, name: &str) -> Option<&Buffer> {
        self.list.iter().find(|b| b.name == name)
    }

    /// The buffer `-b` names (tmux: `no buffer X` when there is none by that name), else the
    /// newest, if there is any buffer.
    pub fn named_or_top(&self, name: Option<&str>) -> Result<Option<&Buffer>, String> {
        match name {
            Some(n) => self
                .get(n)
                .map(Some)
                .ok_or_else(|| format!("no buffer {n}")),
            None => Ok(self.top()),
        }
    }

    /// The newest buffer (what commands use without `-b`).
    pub fn top(&self) -> Option<&Buffer> {
        self.list.first()
    }

    /// Add an automatic buffer; returns its name.
    pub fn add(&mut self, data: Vec<u8>, now_ms: u64, limit: usize) -> String {
        let name = format!("buffer{}", self.next_automatic);
        self.next_automatic += 1;
        self.list.insert(
            0,
            Buffer {
                name: name.clone(),
                data,
                created_ms: now_ms,
                automatic: true,
            },
        );
        let mut automatic = 0;
        self.list.retain(|b| {
            if b.automatic {
                automatic += 1;
                automatic <= limit.max(1)
            } else {
                true
            }
        });
        name
    }

    /// Set a named buffer (it becomes the newest); without a name, add an automatic one.
    pub fn set(&mut self, name: Option<&str>, data: Vec<u8>, now_ms: u64, limit: usize) -> String {
        let Some(name) = name else {
            return self.add(data, now_ms, limit);
        };
        self.list.retain(|b| b.name != name);
        self.list.insert(
            0,
            Buffer {
                name: name.to_owned(),
                data,
                created_ms: now_ms,
                automatic: false,
            },
        );
        name.to_owned()
    }

    /// Delete by name (or the newest); false if there was none.
    pub fn delete(&mut self, name: Option<&str>) -> bool {
        let at = match name {
            Some(n) => self.list.iter().position(|b| b.name == n),
            None => (!self.list.is_empty()).then_some(0),
        };
        match at {
            Some(i) => {
                self.list.remove(i);
                true
            }
            None => false,
        }
    }

    /// Rename a buffer (`set-buffer -n`). tmux: `no buffer X`.
    pub fn rename(&mut self, from: Option<&str>, to: &str) -> Result<(), String> {
        let at = match from {
            Some(n) => self.list.iter().position(|b| b.name == n),
            None => (!self.list.is_empty()).then_some(0),
        }
        .ok_or_else(|| match from {
            Some(n) => format!("no buffer {n}"),
            None => "no buffer".to_owned(),
        })?;
        if self.list[at].name == to {
            return Ok(());
        }
        self.list.retain(|b| b.name != to);
        let at = self
            .list
            .iter()
            .position(|b| Some(b.name.as_str()) == from)
            .unwrap_or(0);
        if let Some(b) = self.list.get_mut(at) {
            b.name = to.to_owned();
            b.automatic = false;
        }
        Ok(())
    }
}
