//! Bearer tokens. A token is shown once when issued; the store keeps only its SHA-256 hash.

use crate::domain::ids::{GridWorkerId, TeamId, validate_id};
use crate::domain::{Actor, Role};
use crate::store::{Store, StoreError, TokenRecord};
use sha2::{Digest, Sha256};

/// Prefix that makes Crest tokens recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "crest_";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown token")]
    Unknown,
    #[error("token {0} was revoked")]
    Revoked(String),
    #[error("a field token must name its team (--team)")]
    FieldNeedsTeam,
    #[error("a grid-worker token must name its grid worker (--grid-worker)")]
    GridWorkerNeedsId,
    #[error("only field tokens are bound to a team, and grid-worker tokens to a grid worker")]
    TeamNotAllowed,
    #[error("invalid team id: {0}")]
    BadTeam(String),
    #[error("no randomness available: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn hash_token(secret: &str) -> String {
    crate::codec::hex(&Sha256::digest(secret.as_bytes()))
}

/// A newly issued token: the secret (show it once) and its stored record.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub secret: String,
    pub record: TokenRecord,
}

/// Creates a token for `role` (and `team` for field tokens) and stores its hash.
pub async fn issue(
    store: &dyn Store,
    role: Role,
    team: Option<&str>,
    label: &str,
) -> Result<IssuedToken, AuthError> {
    issue_in(store, None, role, team, label).await
}

/// The drill a token was issued for, read from its secret (`crest_DR-3_…`); `None` for a live
/// token.
pub fn drill_of(secret: &str) -> Option<&str> {
    let rest = secret.strip_prefix(TOKEN_PREFIX)?;
    let (drill, _) = rest.split_once('_')?;
    drill
        .starts_with(crate::drill::registry::DRILL_PREFIX)
        .then_some(drill)
}

/// [`issue`], for the space `drill` names (its secret says so: `crest_DR-3_…`) or the live one.
/// A drill's token is stored in the drill's own log: it can act nowhere else.
pub async fn issue_in(
    store: &dyn Store,
    drill: Option<&str>,
    role: Role,
    team: Option<&str>,
    label: &str,
) -> Result<IssuedToken, AuthError> {
    match (role, team) {
        (Role::Field, None) => return Err(AuthError::FieldNeedsTeam),
        (Role::GridWorker, None) => return Err(AuthError::GridWorkerNeedsId),
        (Role::Dispatcher | Role::Observer, Some(_)) => return Err(AuthError::TeamNotAllowed),
        (_, Some(t)) => validate_id(t).map_err(AuthError::BadTeam)?,
        _ => {}
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    let space = drill.map_or(String::new(), |d| format!("{d}_"));
    let secret = format!("{TOKEN_PREFIX}{space}{}", crate::codec::hex(&bytes));
    let hash = hash_token(&secret);
    let record = TokenRecord {
        id: format!("tk_{}", &hash[..12]),
        hash,
        role: role.name().to_string(),
        team: team.map(str::to_string),
        label: if label.is_empty() {
            format!("{} token", role.name())
        } else {
            label.to_string()
        },
        created_ms: crate::clock::now_ms(),
        revoked_ms: None,
    };
    store.insert_token(record.clone()).await?;
    Ok(IssuedToken { secret, record })
}

/// A presented token that checked out: who it stands for, and which token it was (so that its
/// sessions can be closed when it is revoked).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: Actor,
    pub token_id: String,
}

/// Resolves a presented secret to the actor it stands for.
pub async fn authenticate(store: &dyn Store, secret: &str) -> Result<Authenticated, AuthError> {
    let rec = store
        .token_by_hash(&hash_token(secret))
        .await?
        .ok_or(AuthError::Unknown)?;
    if rec.revoked_ms.is_some() {
        return Err(AuthError::Revoked(rec.id));
    }
    let role = Role::parse(&rec.role)
        .ok_or_else(|| StoreError::Corrupt(format!("token {} has role {}", rec.id, rec.role)))?;
    Ok(Authenticated {
        // The token's `team` column holds what it is bound to: a team for a field token, a grid
        // worker for a grid worker's token.
        actor: match role {
            Role::GridWorker => Actor {
                role,
                team: None,
                grid_worker: rec.team.map(GridWorkerId::from),
                name: rec.label,
            },
            _ => Actor {
                role,
                team: rec.team.map(TeamId::from),
                grid_worker: None,
                name: rec.label,
            },
        },
        token_id: rec.id,
    })
}

/// Watches the token table and announces each newly revoked token id once, so that open sessions
/// using it are closed at once rather than at their next connect. Runs until `stop` turns true.
pub async fn watch_revocations(
    store: std::sync::Arc<dyn Store>,
    revoked: tokio::sync::broadcast::Sender<String>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut known: std::collections::HashSet<String> = match store.revoked_token_ids().await {
        Ok(ids) => ids.into_iter().collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read revoked tokens");
            Default::default()
        }
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match store.revoked_token_ids().await {
            Ok(ids) => {
                for id in ids {
                    if known.insert(id.clone()) {
                        tracing::info!(token = %id, "token revoked; closing its sessions");
                        let _ = revoked.send(id);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read revoked tokens"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn issue_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let t = issue(&store, Role::Field, Some("T-07"), "tablet 7")
            .await
            .unwrap();
        assert!(t.secret.starts_with(TOKEN_PREFIX));
        assert_ne!(t.record.hash, t.secret, "only the hash is stored");
        let auth = authenticate(&store, &t.secret).await.unwrap();
        assert_eq!(auth.token_id, t.record.id);
        let actor = auth.actor;
        assert_eq!(actor.role, Role::Field);
        assert_eq!(actor.team.as_ref().map(|t| t.as_str()), Some("T-07"));
        assert!(matches!(
            authenticate(&store, "crest_nope").await,
            Err(AuthError::Unknown)
        ));
        store.revoke_token(&t.record.id, 1).await.unwrap();
        assert!(matches!(
            authenticate(&store, &t.secret).await,
            Err(AuthError::Revoked(_))
        ));
        assert!(matches!(
            issue(&store, Role::Field, None, "").await,
            Err(AuthError::FieldNeedsTeam)
        ));
        assert!(matches!(
            issue(&store, Role::Observer, Some("T-1"), "").await,
            Err(AuthError::TeamNotAllowed)
        ));
        assert!(matches!(
            issue(&store, Role::Field, Some("bad id"), "").await,
            Err(AuthError::BadTeam(_))
        ));
    }
}
