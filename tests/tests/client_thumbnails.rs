//! Thumbnails (spec §"Thumbnails"): real images made here with the `image` crate, uploaded,
//! and thumbnailed through both endpoints; the decoded answers have the asked dimensions;
//! a second request is answered from the stored thumbnail; every refusal has Synapse's
//! status and errcode; image bombs are refused without being decoded; the spam checkers see
//! each thumbnail made.

use std::io::Cursor;

use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::{
    AnimationDecoder, Delay, DynamicImage, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage,
};
use modhost_tests::{scripted_server, Client, TestServer, Workdir};
use serde_json::{json, Value};

async fn upload(c: &Client, bytes: &[u8], content_type: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/_matrix/media/v3/upload?filename=pic", c.base))
        .bearer_auth(&c.token)
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    let uri = body["content_uri"].as_str().unwrap();
    uri.strip_prefix("mxc://").unwrap().to_string()
}

/// A thumbnail answer: status, content type, body.
struct Answer {
    status: u16,
    content_type: String,
    nosniff: bool,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn error(&self) -> (u16, String) {
        let body = self.json();
        (self.status, body["errcode"].as_str().unwrap_or("").into())
    }

    /// The image's (width, height), checking it is what the content type says.
    fn dimensions(&self) -> (u32, u32) {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        let format = image::guess_format(&self.body).expect("an image");
        let expected = match self.content_type.as_str() {
            "image/png" => ImageFormat::Png,
            "image/jpeg" => ImageFormat::Jpeg,
            "image/gif" => ImageFormat::Gif,
            other => panic!("unexpected content type {other}"),
        };
        assert_eq!(format, expected, "the bytes are what the content type says");
        let image = image::load_from_memory(&self.body).expect("decodes");
        (image.width(), image.height())
    }
}

/// GET a thumbnail: the authenticated endpoint when `token` is given, else the legacy one.
async fn thumb(base: &str, token: Option<&str>, path: &str, query: &str) -> Answer {
    let url = match token {
        Some(_) => format!("{base}/_matrix/client/v1/media/thumbnail/{path}?{query}"),
        None => format!("{base}/_matrix/media/v3/thumbnail/{path}?{query}"),
    };
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, nosniff) = (header("content-type"), header("x-content-type-options"));
    Answer {
        status: resp.status().as_u16(),
        content_type,
        nosniff: nosniff == "nosniff",
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

/// A `width`×`height` picture: red left third, green middle third, blue right third.
fn stripes(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| match 3 * x / width {
        0 => Rgb([255, 0, 0]),
        1 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    })
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// An animated GIF of `frames` frames of `width`×`height`.
fn animated_gif(width: u32, height: u32, frames: u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for i in 0..frames {
            let shade = i.wrapping_mul(80);
            let frame = RgbaImage::from_pixel(width, height, Rgba([shade, 0, 255 - shade, 255]));
            let delay = Delay::from_numer_denom_ms(100, 1);
            encoder
                .encode_frame(Frame::from_parts(frame, 0, 0, delay))
                .unwrap();
        }
    }
    out
}

async fn server(w: &Workdir) -> (TestServer, Client) {
    let s = TestServer::start(&w.config("enable_registration: true\n")).await;
    let alice = s.register("alice").await;
    (s, alice)
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_fits_the_box_and_crop_fills_it_for_every_input_format() {
    let w = Workdir::new();
    let (s, alice) = server(&w).await;
    let picture = DynamicImage::ImageRgb8(stripes(300, 100));
    let inputs = [
        ("image/png", ImageFormat::Png, "image/png"),
        ("image/jpeg", ImageFormat::Jpeg, "image/jpeg"),
        ("image/gif", ImageFormat::Gif, "image/png"),
        // Synapse thumbnails WebP as JPEG.
        ("image/webp", ImageFormat::WebP, "image/jpeg"),
    ];
    for (content_type, format, thumbnail_type) in inputs {
        let path = upload(&alice, &encode(picture.clone(), format), content_type).await;
        for token in [Some(alice.token.as_str()), None] {
            let scaled = thumb(&s.base, token, &path, "width=64&height=64&method=scale").await;
            assert_eq!(scaled.dimensions(), (64, 21), "{content_type} scale");
            assert_eq!(scaled.content_type, thumbnail_type, "{content_type}");
            assert!(scaled.nosniff, "served like any media file");
            let cropped = thumb(&s.base, token, &path, "width=30&height=30&method=crop").await;
            assert_eq!(cropped.dimensions(), (30, 30), "{content_type} crop");
            // Crop keeps the middle: the 3:1 stripes cut to a square are the green third.
            let rgb = image::load_from_memory(&cropped.body).unwrap().to_rgb8();
            for x in [4, 15, 25] {
                let Rgb([r, g, b]) = *rgb.get_pixel(x, 15);
                assert!(g > 200 && r < 60 && b < 60, "{content_type} ({x},15) green");
            }
        }
        // `method` defaults to scale; a box larger than the image keeps the image's size.
        let default = thumb(&s.base, None, &path, "width=1000&height=20").await;
        assert_eq!(
            default.dimensions(),
            (60, 20),
            "{content_type} default scale"
        );
        let larger = thumb(&s.base, None, &path, "width=800&height=600").await;
        assert_eq!(larger.dimensions(), (300, 100), "scale never enlarges");
        let cropped_up = thumb(&s.base, None, &path, "width=400&height=400&method=crop").await;
        assert_eq!(
            cropped_up.dimensions(),
            (400, 400),
            "crop always fills the box"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_animated_gif_stays_animated_only_when_asked() {
    let w = Workdir::new();
    let (s, alice) = server(&w).await;
    let path = upload(&alice, &animated_gif(120, 60, 3), "image/gif").await;
    let animated = thumb(&s.base, None, &path, "width=40&height=40&animated=true").await;
    assert_eq!(animated.content_type, "image/gif");
    assert_eq!(animated.dimensions(), (40, 20));
    let frames = GifDecoder::new(Cursor::new(&animated.body))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 3, "every frame kept");
    assert!(frames.iter().all(|f| f.buffer().dimensions() == (40, 20)));
    let still = thumb(&s.base, None, &path, "width=40&height=40&animated=false").await;
    assert_eq!(
        (still.content_type.as_str(), still.dimensions()),
        ("image/png", (40, 20))
    );
    // A still image asked for animated gets its usual still thumbnail.
    let png = encode(DynamicImage::ImageRgb8(stripes(90, 30)), ImageFormat::Png);
    let path = upload(&alice, &png, "image/png").await;
    let answer = thumb(&s.base, None, &path, "width=30&height=30&animated=true").await;
    assert_eq!(
        (answer.content_type.as_str(), answer.dimensions()),
        ("image/png", (30, 10))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_request_is_answered_from_the_stored_thumbnail() {
    let w = Workdir::new();
    let (s, alice) = server(&w).await;
    let png = encode(DynamicImage::ImageRgb8(stripes(200, 100)), ImageFormat::Png);
    let path = upload(&alice, &png, "image/png").await;
    let media_id = path.rsplit('/').next().unwrap();
    let first = thumb(&s.base, None, &path, "width=32&height=32&method=crop").await;
    assert_eq!(first.dimensions(), (32, 32));
    let stored = w
        .path()
        .join("data/media/thumbnails")
        .join(media_id)
        .join("32x32-crop");
    assert_eq!(std::fs::read(&stored).unwrap(), first.body, "kept on disk");
    // Put a different picture in its place: an answer rendered again would not be 7×3.
    let marker = encode(DynamicImage::ImageRgb8(stripes(7, 3)), ImageFormat::Png);
    std::fs::write(&stored, &marker).unwrap();
    let second = thumb(
        &s.base,
        Some(&alice.token),
        &path,
        "width=32&height=32&method=crop",
    )
    .await;
    assert_eq!(second.body, marker, "the stored file, not a new rendering");
    // Without the original, stored thumbnails are still served, new ones cannot be made.
    std::fs::remove_file(w.path().join("data/media").join(media_id)).unwrap();
    let again = thumb(&s.base, None, &path, "width=32&height=32&method=crop").await;
    assert_eq!(again.dimensions(), (7, 3));
    let other = thumb(&s.base, None, &path, "width=16&height=16&method=crop").await;
    assert_eq!(other.error(), (404, "M_NOT_FOUND".into()));
    // A lost thumbnail file is made again (from the original, here gone: 404).
    std::fs::remove_file(&stored).unwrap();
    let lost = thumb(&s.base, None, &path, "width=32&height=32&method=crop").await;
    assert_eq!(lost.error(), (404, "M_NOT_FOUND".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_have_synapses_status_and_errcode() {
    let w = Workdir::new();
    let (s, alice) = server(&w).await;
    let png = encode(DynamicImage::ImageRgb8(stripes(60, 30)), ImageFormat::Png);
    let path = upload(&alice, &png, "image/png").await;
    let ok = "width=10&height=10";
    for (path, query, want) in [
        ("test.local/nosuchmedia", ok, (404, "M_NOT_FOUND")),
        ("elsewhere.example/nosuchmedia", ok, (404, "M_NOT_FOUND")),
        (path.as_str(), "height=10", (400, "M_MISSING_PARAM")),
        (path.as_str(), "width=10", (400, "M_MISSING_PARAM")),
        (
            path.as_str(),
            "width=ten&height=10",
            (400, "M_INVALID_PARAM"),
        ),
        (
            path.as_str(),
            "width=-5&height=10",
            (400, "M_INVALID_PARAM"),
        ),
        (path.as_str(), "width=10&height=0", (400, "M_INVALID_PARAM")),
        (
            path.as_str(),
            "width=10&height=10&animated=maybe",
            (400, "M_INVALID_PARAM"),
        ),
        // Synapse has no thumbnail made by an unknown method: 404.
        (
            path.as_str(),
            "width=10&height=10&method=zoom",
            (404, "M_NOT_FOUND"),
        ),
    ] {
        for token in [Some(alice.token.as_str()), None] {
            let answer = thumb(&s.base, token, path, query).await;
            assert_eq!(answer.error(), (want.0, want.1.into()), "{path}?{query}");
        }
    }
    let unauthenticated = thumb(&s.base, None, &path, ok).await;
    assert_eq!(
        unauthenticated.status, 200,
        "the legacy endpoint needs no token"
    );
    let url = format!("{}/_matrix/client/v1/media/thumbnail/{path}?{ok}", s.base);
    let resp = reqwest::get(url).await.unwrap();
    assert_eq!(resp.status().as_u16(), 401, "v1 needs a token");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errcode"], "M_MISSING_TOKEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn media_that_is_no_image_or_too_large_gets_400_m_unknown_and_nothing_is_stored() {
    let w = Workdir::new();
    let (s, alice) = server(&w).await;
    let text = upload(&alice, b"just words", "text/plain").await;
    let answer = thumb(&s.base, None, &text, "width=10&height=10").await;
    assert_eq!(answer.error(), (400, "M_UNKNOWN".into()));
    assert!(answer.json()["error"]
        .as_str()
        .unwrap()
        .contains("text/plain"));
    let corrupt = upload(&alice, b"\x89PNG\r\n\x1a\nnot really", "image/png").await;
    let answer = thumb(&s.base, None, &corrupt, "width=10&height=10").await;
    assert_eq!(answer.error(), (400, "M_UNKNOWN".into()));
    // A 40-byte GIF whose header claims 65535×65535 pixels (4 G): refused from its header,
    // before anything is decoded.
    let mut bomb = encode(
        DynamicImage::ImageRgba8(RgbaImage::new(2, 2)),
        ImageFormat::Gif,
    );
    bomb[6..10].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    let bomb = upload(&alice, &bomb, "image/gif").await;
    let answer = thumb(&s.base, None, &bomb, "width=10&height=10").await;
    assert_eq!(answer.error(), (400, "M_UNKNOWN".into()));
    let said = answer.json()["error"].as_str().unwrap().to_string();
    assert!(said.contains("larger than 33554432 pixels"), "{said}");
    // A crop box of 100 M pixels is a bomb of the server's own making.
    let png = encode(DynamicImage::ImageRgb8(stripes(60, 30)), ImageFormat::Png);
    let fine = upload(&alice, &png, "image/png").await;
    let answer = thumb(&s.base, None, &fine, "width=10000&height=10000&method=crop").await;
    assert_eq!(answer.error(), (400, "M_UNKNOWN".into()));
    assert!(
        !w.path().join("data/media/thumbnails").exists(),
        "no thumbnail stored for any refusal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_thumbnail_made_goes_through_check_media_file_for_spam() {
    let w = Workdir::new();
    // The upload passes; the first thumbnail passes; the second is denied.
    let answers =
        json!({"check_media_file_for_spam": {"seq": [null, null, {"deny": "M_FORBIDDEN"}]}});
    let s = scripted_server(&w, "enable_registration: true\n", &[("a", answers)]).await;
    let alice = s.register("alice").await;
    let png = encode(DynamicImage::ImageRgb8(stripes(60, 30)), ImageFormat::Png);
    let path = upload(&alice, &png, "image/png").await;
    let passed = thumb(&s.base, None, &path, "width=20&height=20&method=crop").await;
    assert_eq!(passed.dimensions(), (20, 20));
    let denied = thumb(&s.base, None, &path, "width=10&height=10&method=crop").await;
    assert_eq!(
        (denied.status, denied.json()),
        (404, json!({"errcode": "M_FORBIDDEN", "error": "Not found"}))
    );
    let calls = s.calls("a").await;
    // The fixture records the `file_info` argument as its JSON text.
    let infos: Vec<Value> = calls
        .iter()
        .filter(|c| c["callback"] == "check_media_file_for_spam")
        .map(|c| serde_json::from_str(c["args"][1].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(infos.len(), 3, "upload + two thumbnails: {calls:?}");
    assert_eq!(
        infos[1]["thumbnail"],
        json!({"width": 20, "height": 20, "method": "crop", "type": "image/png"})
    );
    assert_eq!(infos[1]["media_type"], "image/png");
    assert_eq!(infos[1]["size"], json!(passed.body.len()));
    // The passed one was stored and is served without asking again; the denied one was not.
    let again = thumb(&s.base, None, &path, "width=20&height=20&method=crop").await;
    assert_eq!(again.body, passed.body);
    assert_eq!(
        s.calls("a").await.len(),
        calls.len(),
        "no new check for a stored one"
    );
    let media_id = path.rsplit('/').next().unwrap();
    let dir = w.path().join("data/media/thumbnails").join(media_id);
    assert!(dir.join("20x20-crop").exists() && !dir.join("10x10-crop").exists());
}
