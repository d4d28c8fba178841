//! Why a request got no reply, and whether it may have reached the server:
//! what every layer of the network reports and the wire decides on (a
//! request that never left may be sent again, whatever it asks for).

/// Why a request got no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LostKind {
    /// A time limit ran out (the attempt's when the reason is empty).
    Timeout,
    /// The connection failed or closed.
    Network,
    /// What came back was not one HTTP reply within the limits.
    Invalid,
    /// The network itself failed (a bug of the core's): every request it held ends.
    Internal,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Lost {
    pub kind: LostKind,
    pub why: String,
    /// The request may have reached the server (so a write may have landed).
    pub sent: bool,
}

impl Lost {
    pub fn timeout(why: impl Into<String>) -> Self {
        Lost {
            kind: LostKind::Timeout,
            why: why.into(),
            sent: true,
        }
    }

    pub fn network(why: impl Into<String>) -> Self {
        Lost {
            kind: LostKind::Network,
            why: why.into(),
            sent: true,
        }
    }

    pub fn invalid(why: impl Into<String>) -> Self {
        Lost {
            kind: LostKind::Invalid,
            why: why.into(),
            sent: true,
        }
    }

    pub fn internal(why: impl Into<String>) -> Self {
        Lost {
            kind: LostKind::Internal,
            why: why.into(),
            sent: true,
        }
    }

    /// The request never left: nothing it asks for can have happened.
    pub fn unsent(self) -> Self {
        Lost { sent: false, ..self }
    }
}
