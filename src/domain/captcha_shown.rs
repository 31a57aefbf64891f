//! The challenges one session holds: the last few shown (`KEPT`), each bound to the form that
//! showed it, so opening a form in a second tab does not void the challenge the first tab
//! shows (whose right answer would otherwise fail, and count as a failure). `captcha.rs`
//! checks one answer against one challenge; this picks which: the newest of the form's
//! challenges the answer is right for. `http/pages/challenge.rs` keeps the list in the
//! session, and its newest challenge alone under the key earlier versions read.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::domain::captcha::{CHALLENGE_TTL_SECS, StoredChallenge};

/// How many shown challenges a session keeps (the oldest goes first): a few open tabs.
pub const KEPT: usize = 3;

/// The challenges a session holds, oldest first.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Shown(Vec<StoredChallenge>);

impl Shown {
    /// The session's list (`list_json`) and its newest challenge on its own (`newest_json`,
    /// which is what sessions kept before lists, and what an instance of that version still
    /// reads and writes during a rolling deploy: one it showed, missing from the list, is
    /// added). Nothing readable: none.
    pub fn read(list: Option<&str>, single: Option<&str>) -> Self {
        let mut shown = list
            .and_then(|j| serde_json::from_str::<Vec<StoredChallenge>>(j).ok())
            .map(Self)
            .unwrap_or_default();
        let single = single.and_then(|j| serde_json::from_str::<StoredChallenge>(j).ok());
        if let Some(c) = single
            && !shown.0.iter().any(|o| o.id == c.id)
        {
            shown.0.push(c);
        }
        shown
    }

    /// The list as the session keeps it.
    pub fn list_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&self.0)
    }

    /// The newest challenge on its own, as sessions kept one before lists; none when empty.
    pub fn newest_json(&self) -> Result<Option<String>, serde_json::Error> {
        self.0.last().map(serde_json::to_string).transpose()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a challenge shown `now`, dropping the expired ones and the oldest past `KEPT`.
    pub fn push(&mut self, challenge: StoredChallenge, now: i64) {
        self.0.retain(|c| now - c.issued_at <= CHALLENGE_TTL_SECS);
        self.0.push(challenge);
        let excess = self.0.len().saturating_sub(KEPT);
        self.0.drain(..excess);
    }

    /// The challenge whose id is `id` (compared in constant time: ids name images).
    pub fn by_id(&self, id: &str) -> Option<&StoredChallenge> {
        self.0
            .iter()
            .find(|c| !c.id.is_empty() && bool::from(c.id.as_bytes().ct_eq(id.as_bytes())))
    }

    /// Takes out the challenges the form `gate` showed, newest first, and leaves the other
    /// forms' (one kept before challenges named their form counts for any).
    pub fn take_gate(&mut self, gate: &str) -> Vec<StoredChallenge> {
        let (mut mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut self.0)
            .into_iter()
            .partition(|c| c.gate.as_deref().is_none_or(|g| g == gate));
        self.0 = others;
        mine.reverse();
        mine
    }

    /// Puts back challenges taken out (`take_gate`) that this answer did not spend: another
    /// tab's, still open. The list stays in the order they were shown, so the newest is last.
    pub fn put_back(&mut self, taken: Vec<StoredChallenge>) {
        self.0.extend(taken);
        self.0.sort_by_key(|c| c.issued_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(id: &str, gate: Option<&str>, at: i64) -> StoredChallenge {
        StoredChallenge {
            answer: String::new(),
            id: id.to_owned(),
            text: None,
            pow: None,
            issued_at: at,
            image_allowed: true,
            gate: gate.map(str::to_owned),
            level: None,
        }
    }

    fn ids(s: &Shown) -> Vec<&str> {
        s.0.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn a_session_keeps_the_last_few_live_challenges() {
        let mut s = Shown::default();
        s.push(shown("old", Some("login"), 0), 0);
        s.push(shown("a", Some("login"), 400), 400);
        assert_eq!(ids(&s), ["a"], "the expired one went");
        for (id, at) in [("b", 401), ("c", 402), ("d", 403)] {
            s.push(shown(id, Some("login"), at), at);
        }
        assert_eq!(ids(&s), ["b", "c", "d"], "the oldest past KEPT went");
        assert_eq!(s.by_id("c").map(|c| c.issued_at), Some(402));
        assert!(s.by_id("a").is_none() && s.by_id("").is_none());
        let back = Shown::read(Some(&s.list_json().unwrap()), None);
        assert_eq!(ids(&back), ["b", "c", "d"]);
    }

    #[test]
    fn a_form_takes_its_own_challenges_newest_first() {
        let mut s = Shown::default();
        s.push(shown("l1", Some("login"), 1), 1);
        s.push(shown("r1", Some("register"), 2), 2);
        s.push(shown("l2", Some("login"), 3), 3);
        let mine = s.take_gate("login");
        assert_eq!(
            mine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["l2", "l1"]
        );
        assert_eq!(ids(&s), ["r1"]);
        s.put_back(mine.into_iter().skip(1).collect());
        assert_eq!(ids(&s), ["l1", "r1"], "in the order shown");
        // After a right answer the newest left is still last (what the older key gets).
        let mut s = Shown::default();
        for (id, gate, at) in [
            ("r1", "register", 1),
            ("l1", "login", 2),
            ("l2", "login", 3),
        ] {
            s.push(shown(id, Some(gate), at), at);
        }
        let mut mine = s.take_gate("login");
        mine.retain(|c| c.id != "l1");
        s.put_back(mine);
        assert_eq!(ids(&s), ["r1", "l2"]);
        assert!(s.newest_json().unwrap().unwrap().contains("\"l2\""));
        // One kept before challenges named their form counts for any.
        let mut legacy = Shown::default();
        legacy.push(shown("x", None, 1), 1);
        assert_eq!(legacy.take_gate("forgot").len(), 1);
    }

    #[test]
    fn a_single_challenge_kept_before_lists_still_reads() {
        let one = serde_json::to_string(&shown("solo", Some("login"), 5)).unwrap();
        assert_eq!(ids(&Shown::read(None, Some(&one))), ["solo"]);
        assert!(Shown::read(Some("not json"), Some("nor this")).is_empty());
        assert!(Shown::read(None, None).is_empty());
        // Both kept (by this version): the single one is the list's newest, not added twice.
        let mut s = Shown::default();
        s.push(shown("a", Some("login"), 1), 1);
        s.push(shown("b", Some("login"), 2), 2);
        let (list, newest) = (s.list_json().unwrap(), s.newest_json().unwrap());
        assert_eq!(
            ids(&Shown::read(Some(&list), newest.as_deref())),
            ["a", "b"]
        );
        // One an older instance showed since (it writes the single key only) is added.
        assert_eq!(
            ids(&Shown::read(Some(&list), Some(&one))),
            ["a", "b", "solo"]
        );
        assert_eq!(Shown::default().newest_json().unwrap(), None);
    }
}
