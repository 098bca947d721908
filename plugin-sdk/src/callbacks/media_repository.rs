use super::{callback_methods, category};
use crate::types::MediaUploadLimit;

category! {
    /// Media repository callbacks (`register_media_repository_callbacks`). A module failure
    /// answers 500.
    MediaRepositoryCallbacks, "media_repository"
}

impl MediaRepositoryCallbacks {
    callback_methods! {
        /// Fires on `GET /_matrix/client/v1/media/config`. `Some(object)` is returned as the
        /// response body; `None` (or an empty object) keeps the default. FIRST-NON-None.
        fn get_media_config_for_user(user_id: String) -> Option<serde_json::Value>;
        /// Fires on upload after the server-wide size check, with the declared size. `false`
        /// answers 413 `M_TOO_LARGE`. FIRST `false` wins.
        fn is_user_allowed_to_upload_media_of_size(user_id: String, size: u64) -> bool;
        /// Fires when an upload is stored. `Some(limits)` replaces the configured upload
        /// limits for this user (`[]` = unlimited); exceeding one answers 400
        /// `M_RESOURCE_LIMIT_EXCEEDED`. FIRST-NON-None.
        fn get_media_upload_limits_for_user(user_id: String) -> Option<Vec<MediaUploadLimit>>;
        /// Fires just before that 400, with the limit, the bytes already sent in its window
        /// and the bytes attempted. Every module is called.
        fn on_media_upload_limit_exceeded(user_id: String, limit: MediaUploadLimit, sent_bytes: u64, attempted_bytes: u64) -> ();
    }
}
