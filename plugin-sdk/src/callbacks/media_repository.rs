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
        fn get_media_config_for_user(
            user_id: String => "the user asking for the media configuration, \
                `@alice:example.org`",
        ) -> Option<serde_json::Value>;
        /// Fires on upload after the server-wide size check, with the declared size. `false`
        /// answers 413 `M_TOO_LARGE`. FIRST `false` wins.
        fn is_user_allowed_to_upload_media_of_size(
            user_id: String => "the uploading user, `@alice:example.org`",
            size: u64 => "the upload's size in bytes: its `Content-Length` header, or the \
                received body's length when the header is missing",
        ) -> bool;
        /// Fires when an upload is stored. `Some(limits)` replaces the configured upload
        /// limits for this user (`[]` = unlimited); exceeding one answers 400
        /// `M_RESOURCE_LIMIT_EXCEEDED`. FIRST-NON-None.
        fn get_media_upload_limits_for_user(
            user_id: String => "the uploading user, `@alice:example.org`",
        ) -> Option<Vec<MediaUploadLimit>>;
        /// Fires just before that 400, with the limit, the bytes already sent in its window
        /// and the bytes attempted. Every module is called.
        fn on_media_upload_limit_exceeded(
            user_id: String => "the uploading user, `@alice:example.org`",
            limit: MediaUploadLimit => "the limit exceeded (limits are checked longest \
                `time_period_ms` first), e.g. `{\"max_bytes\": 10485760, \
                \"time_period_ms\": 86400000}`",
            sent_bytes: u64 => "bytes the user already uploaded within the limit's last \
                `time_period_ms`, not counting this upload",
            attempted_bytes: u64 => "the size of the refused upload, in bytes",
        ) -> ();
    }
}
