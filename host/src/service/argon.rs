//! Argon2 hashing and verification that reuse one memory area per hashing thread. Argon2
//! needs ~19 MiB per computation; allocating and freeing it each time fragmented the
//! allocator's per-thread heaps so that every burst of logins left more memory behind. Each
//! worker of [`crate::service::hash_pool`] keeps its area for its lifetime instead, so the
//! server's memory for hashing is at most `max_concurrent` areas.

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

thread_local! {
    /// This thread's Argon2 memory, grown to the largest parameters seen.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Compute the Argon2 `output` of `password` and raw `salt` with `argon` and `params`, in this
/// thread's memory area.
fn compute(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    output: &mut [u8],
) -> Result<(), argon2::Error> {
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        let blocks = params.block_count();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, output, &mut memory[..blocks])
    })
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password` with `salt` and the
/// default parameters, as `Argon2::default().hash_password` makes it.
pub fn hash(password: &[u8], salt: Salt<'_>) -> Result<String, argon2::password_hash::Error> {
    let params = Params::default();
    let argon = Argon2::new(Algorithm::default(), Version::default(), params.clone());
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(len, |out| {
        Ok(compute(&argon, &params, password, salt_bytes, out)?)
    })?;
    let phc = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc` (`false` when it does not parse); the
/// comparison takes constant time.
pub fn verify(password: &[u8], phc: &str) -> bool {
    let check = || -> Result<bool, argon2::password_hash::Error> {
        let parsed = PasswordHash::new(phc)?;
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut salt_buf = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let actual = Output::init_with(expected.len(), |out| {
            Ok(compute(&argon, &params, password, salt_bytes, out)?)
        })?;
        Ok(actual == expected)
    };
    check().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString};

    use super::*;

    #[test]
    fn hashes_agree_with_the_argon2_crates_own() {
        let salt = SaltString::generate(&mut OsRng);
        let ours = hash(b"secret", salt.as_salt()).unwrap();
        let theirs = Argon2::default()
            .hash_password(b"secret", &salt)
            .unwrap()
            .to_string();
        assert_eq!(ours, theirs);
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"secret", &parsed)
            .is_ok());
        assert!(verify(b"secret", &theirs));
        assert!(!verify(b"Secret", &theirs));
        assert!(!verify(b"secret", "not a hash"));
    }
}
