//! A minimal Server-Sent Events reader over a reqwest response, for the revocation stream.

use std::time::Duration;

use reqwest::Response;

/// One event: its `event`, `id` and `data` fields.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

/// Reads events from a streaming response.
pub struct SseReader {
    resp: Response,
    buf: String,
}

impl SseReader {
    pub fn new(resp: Response) -> Self {
        Self {
            resp,
            buf: String::new(),
        }
    }

    /// The next event within `wait`: `Ok(None)` when the stream ended, `Err(())` on timeout.
    pub async fn next(&mut self, wait: Duration) -> Result<Option<SseEvent>, ()> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = SseEvent::default();
                let mut any = false;
                for line in block.lines() {
                    if let Some((field, value)) = line.split_once(':') {
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        match field {
                            "event" => ev.event = value.to_owned(),
                            "id" => ev.id = Some(value.to_owned()),
                            "data" => ev.data.push_str(value),
                            _ => continue,
                        }
                        any = true;
                    }
                }
                if any {
                    return Ok(Some(ev));
                }
                continue; // a comment (keep-alive) or a bare `retry`
            }
            match tokio::time::timeout_at(deadline, self.resp.chunk()).await {
                Err(_) => return Err(()),
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) => return Ok(None),
            }
        }
    }

    /// The next event that is not a heartbeat, within `wait`.
    pub async fn next_entry(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Ok(Some(ev)) if ev.event == "heartbeat" => continue,
                Ok(Some(ev)) => return Some(ev),
                _ => return None,
            }
        }
    }
}
