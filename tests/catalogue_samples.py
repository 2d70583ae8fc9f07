"""Inputs of fal catalogue endpoints as fal's model pages show them, written by hand (never
generated from the schemas): the catalogue's unit tests and the generic endpoints' tests."""

from __future__ import annotations

from typing import Any

# fal's image_size presets (docs/evidence.md, fal-toolkit-image): fal-ai/fal,
#   projects/fal/src/fal/toolkit/image/image.py:
#   "square_hd": ImageSize(width=1024, height=1024), "square": ImageSize(width=512, height=512),
#   "portrait_4_3": ImageSize(width=768, height=1024), "portrait_16_9": ImageSize(width=576, ...
#   "landscape_4_3": ImageSize(width=1024, height=768), "landscape_16_9": ImageSize(width=1024,
#   height=576)
FAL_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


IMAGE = "https://storage.googleapis.com/falserverless/example_inputs/cat.png"
VIDEO = "https://storage.googleapis.com/falserverless/example_inputs/video.mp4"
AUDIO = "https://storage.googleapis.com/falserverless/example_inputs/speech.mp3"

# Inputs as fal's model pages show them, written by hand: (kind, a valid input, an invalid one).
SAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # text to image
    "fal-ai/flux/dev": (
        "image",
        {"prompt": "A cat wearing a tiny wizard hat", "image_size": "landscape_4_3",
         "num_inference_steps": 28, "guidance_scale": 3.5, "num_images": 1,
         "enable_safety_checker": True, "output_format": "jpeg"},
        {"prompt": "A cat", "output_format": "gif"},
    ),
    "fal-ai/flux/schnell": (
        "image",
        {"prompt": "A lighthouse at dawn", "image_size": {"width": 1024, "height": 768},
         "num_inference_steps": 4, "seed": 42},
        {"prompt": "A lighthouse", "image_size": "huge"},
    ),
    "fal-ai/flux-pro/v1.1-ultra": (
        "image",
        {"prompt": "A neon city street in the rain", "aspect_ratio": "21:9",
         "safety_tolerance": "2", "raw": False},
        {"prompt": "A street", "safety_tolerance": 2},
    ),
    "fal-ai/recraft/v3/text-to-image": (
        "image",
        {"prompt": "A red fox in a snowy forest", "image_size": "square_hd",
         "style": "digital_illustration", "colors": [{"r": 200, "g": 40, "b": 20}]},
        {"prompt": "A fox", "style": "oil_painting"},
    ),
    "fal-ai/imagen4/preview": (
        "image",
        {"prompt": "A bowl of ramen, studio lighting", "aspect_ratio": "16:9",
         "num_images": 2, "resolution": "2K"},
        {"aspect_ratio": "16:9"},
    ),
    "fal-ai/ideogram/v3": (
        "image",
        {"prompt": "A poster that says HELLO", "rendering_speed": "TURBO", "style": "DESIGN",
         "image_size": "portrait_16_9"},
        {"prompt": "A poster", "rendering_speed": "FAST"},
    ),
    "fal-ai/fast-sdxl": (
        "image",
        {"prompt": "photo of a cabin in the woods", "negative_prompt": "blurry",
         "num_inference_steps": 25, "guidance_scale": 7.5, "format": "png",
         "loras": [{"path": "https://example.com/lora.safetensors", "scale": 0.8}]},
        {"prompt": "a cabin", "loras": [{"scale": 0.8}]},
    ),
    "fal-ai/bytedance/seedream/v4/text-to-image": (
        "image",
        {"prompt": "A glass teapot on a wooden table", "image_size": "square_hd",
         "num_images": 1, "max_images": 1},
        {"prompt": "A teapot", "num_images": "one"},
    ),
    # image to image
    "fal-ai/flux/dev/image-to-image": (
        "image",
        {"image_url": IMAGE, "prompt": "Make it a watercolor", "strength": 0.95},
        {"prompt": "Make it a watercolor"},
    ),
    "fal-ai/flux-pro/kontext": (
        "image",
        {"image_url": IMAGE, "prompt": "Put a donut next to the cat", "aspect_ratio": "1:1"},
        {"image_url": IMAGE, "prompt": "Add a donut", "aspect_ratio": "5:4"},
    ),
    "fal-ai/nano-banana/edit": (
        "image",
        {"image_urls": [IMAGE, IMAGE], "prompt": "Blend these two cats", "num_images": 1,
         "output_format": "png"},
        {"image_urls": IMAGE, "prompt": "Blend"},
    ),
    "fal-ai/birefnet": (
        "image",
        {"image_url": IMAGE, "model": "General Use (Light)", "operating_resolution": "1024x1024",
         "output_format": "png", "refine_foreground": True},
        {"image_url": IMAGE, "operating_resolution": "4096x4096"},
    ),
    # video
    "fal-ai/kling-video/v2.1/standard/image-to-video": (
        "video",
        {"prompt": "The cat slowly turns its head", "image_url": IMAGE, "duration": "5",
         "negative_prompt": "blur, distort, and low quality", "cfg_scale": 0.5},
        {"prompt": "The cat turns", "image_url": IMAGE, "duration": 5},
    ),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": (
        "video",
        {"prompt": "Camera pushes in on the cat", "image_url": IMAGE, "duration": "6",
         "resolution": "768P", "prompt_optimizer": True},
        {"prompt": "Push in", "image_url": IMAGE, "resolution": "1080P"},
    ),
    "fal-ai/veo3": (
        "video",
        {"prompt": "A drone shot over a misty valley at sunrise", "aspect_ratio": "16:9",
         "duration": "8s", "generate_audio": True, "resolution": "1080p"},
        {"prompt": "A valley", "duration": "10s"},
    ),
    "fal-ai/pixverse/v4.5/text-to-video": (
        "video",
        {"prompt": "A paper boat drifting down a stream", "aspect_ratio": "16:9",
         "resolution": "720p", "duration": "5", "style": "anime"},
        {"prompt": "A paper boat", "style": "watercolor"},
    ),
    "fal-ai/wan-i2v": (
        "video",
        {"prompt": "The cat starts dancing", "image_url": IMAGE, "num_frames": 81,
         "frames_per_second": 16, "resolution": "720p", "aspect_ratio": "auto"},
        {"prompt": "The cat dances", "image_url": IMAGE, "resolution": "1080p"},
    ),
    "fal-ai/ltx-video": (
        "video",
        {"prompt": "Waves crashing on black sand", "num_inference_steps": 30,
         "guidance_scale": 3, "seed": 7},
        {"negative_prompt": "low quality"},
    ),
    "fal-ai/video-upscaler": (
        "video",
        {"video_url": VIDEO, "scale": 2},
        {"video_url": VIDEO, "scale": "2x"},
    ),
    # text to speech, music and sound
    "fal-ai/elevenlabs/tts/multilingual-v2": (
        "audio",
        {"text": "Hello! This is a test of the text to speech system.", "voice": "Aria",
         "stability": 0.5, "similarity_boost": 0.75, "speed": 1},
        {"voice": "Aria"},
    ),
    "fal-ai/kokoro/american-english": (
        "audio",
        {"prompt": "The quick brown fox jumped over the lazy dog.", "voice": "af_heart",
         "speed": 1},
        {"prompt": "The quick brown fox", "voice": "bf_emma"},
    ),
    "fal-ai/minimax/speech-02-hd": (
        "audio",
        {"text": "Hello world! This is a test.", "output_format": "url",
         "voice_setting": {"voice_id": "Wise_Woman", "speed": 1, "vol": 1, "pitch": 0},
         "audio_setting": {"sample_rate": "32000", "bitrate": "128000", "format": "mp3",
                           "channel": "1"}},
        {"text": "Hello", "audio_setting": {"format": "ogg"}},
    ),
    "fal-ai/chatterbox/text-to-speech": (
        "audio",
        {"text": "I just found a hidden treasure in the backyard!", "exaggeration": 0.25,
         "temperature": 0.7, "cfg": 0.5},
        {"text": 42},
    ),
    "fal-ai/stable-audio": (
        "audio",
        {"prompt": "128 BPM tech house drum loop", "seconds_total": 30, "steps": 100},
        {"seconds_total": 30},
    ),
    "fal-ai/mmaudio-v2/text-to-audio": (
        "audio",
        {"prompt": "Indian holy music", "duration": 8, "num_steps": 25, "cfg_strength": 4.5},
        {"prompt": "Indian holy music", "mask_away_clip": "no"},
    ),
    "fal-ai/lyria2": (
        "audio",
        {"prompt": "A lush, ambient soundscape with a slow piano melody",
         "negative_prompt": "low quality"},
        {"negative_prompt": "vocals"},
    ),
    # speech to text
    "fal-ai/whisper": (
        "text",
        {"audio_url": AUDIO, "task": "transcribe", "language": "en", "chunk_level": "segment",
         "diarize": False},
        {"audio_url": AUDIO, "task": "summarize"},
    ),
    "fal-ai/wizper": (
        "text",
        {"audio_url": AUDIO, "task": "transcribe", "language": "en", "chunk_level": "segment"},
        {"audio_url": AUDIO, "language": "english"},
    ),
    "fal-ai/elevenlabs/speech-to-text": (
        "text",
        {"audio_url": AUDIO, "language_code": "eng", "tag_audio_events": True, "diarize": True},
        {"language_code": "eng"},
    ),
    # language and vision models
    "openrouter/router": (
        "text",
        {"prompt": "Write a haiku about the sea.", "model": "google/gemini-2.5-flash",
         "system_prompt": "You are a poet.", "temperature": 1, "max_tokens": 200},
        {"prompt": "Write a haiku about the sea."},
    ),
    "openrouter/router/vision": (
        "text",
        {"image_urls": [IMAGE], "prompt": "Caption this image for a video model.",
         "model": "google/gemini-2.5-flash"},
        {"image_urls": [IMAGE], "prompt": "Caption it", "model": "google/gemini-2.5-flash",
         "reasoning": "yes"},
    ),
    "fal-ai/moondream2/visual-query": (
        "text",
        {"image_url": IMAGE, "prompt": "What animal is this?"},
        {"image_url": [IMAGE], "prompt": "What animal is this?"},
    ),
    # upscalers
    "fal-ai/clarity-upscaler": (
        "image",
        {"image_url": IMAGE, "prompt": "masterpiece, best quality, highres",
         "upscale_factor": 2, "creativity": 0.35, "resemblance": 0.6},
        {"prompt": "masterpiece"},
    ),
    "fal-ai/esrgan": (
        "image",
        {"image_url": IMAGE, "scale": 2, "model": "RealESRGAN_x4plus", "output_format": "png"},
        {"image_url": IMAGE, "model": "RealESRGAN_x8"},
    ),
    "fal-ai/aura-sr": (
        "image",
        {"image_url": IMAGE, "upscale_factor": 4, "checkpoint": "v2"},
        {"image_url": IMAGE, "checkpoint": "v3"},
    ),
    "fal-ai/seedvr/upscale/image": (
        "image",
        {"image_url": IMAGE, "upscale_mode": "target", "target_resolution": "2160p",
         "output_format": "webp"},
        {"image_url": IMAGE, "target_resolution": "4k"},
    ),
    # 3D
    "fal-ai/hunyuan3d/v2": (
        "3d",
        {"input_image_url": IMAGE, "num_inference_steps": 50, "guidance_scale": 7.5,
         "octree_resolution": 256, "textured_mesh": True},
        {"image_url": IMAGE},
    ),
    "fal-ai/trellis": (
        "3d",
        {"image_url": IMAGE, "ss_guidance_strength": 7.5, "slat_sampling_steps": 12,
         "mesh_simplify": 0.95, "texture_size": "1024"},
        {"image_url": IMAGE, "texture_size": 1024},
    ),
    "tripo3d/tripo/v2.5/image-to-3d": (
        "3d",
        {"image_url": IMAGE, "texture": "HD", "pbr": True, "orientation": "align_image"},
        {"image_url": IMAGE, "texture": "ultra"},
    ),
    # files and others
    "fal-ai/flux-lora-fast-training": (
        "file",
        {"images_data_url": "https://example.com/my-dataset.zip", "trigger_word": "TOK",
         "steps": 1000, "create_masks": True},
        {"trigger_word": "TOK"},
    ),
    "fal-ai/imageutils/nsfw": (
        "other",
        {"image_url": IMAGE},
        {"image_url": None},
    ),
}  # fmt: skip
