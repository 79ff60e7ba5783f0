"""Data files shipped with Img2Img Studio (installed as ``img2img_studio_resources``)."""
