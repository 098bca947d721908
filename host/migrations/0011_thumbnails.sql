-- Thumbnails made on request (spec §"Thumbnails"), one per media and requested size, method
-- and animation preference, so the same request is answered without rendering again. The
-- bytes are on disk under media_store_path/thumbnails/<media_id>/.
CREATE TABLE media_thumbnails (
    media_id TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    method TEXT NOT NULL,
    animated INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    length INTEGER NOT NULL,
    created_ts INTEGER NOT NULL,
    PRIMARY KEY (media_id, width, height, method, animated)
);
