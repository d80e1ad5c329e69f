#!/usr/bin/python3
"""RTSP server for Protocam's tests: relays one pre-encoded H.264 MPEG-TS clip, looped, on
several mount points, without re-encoding. Each mount is one shared pipeline
(multifilesrc loop=true ! tsdemux ! h264parse ! rtph264pay), so many "cameras" cost little CPU.

  rtsp-server.py --port 8554 --clip clip.ts --mount /cam1 --mount /cam2:user:secret
  rtsp-server.py --check     exits 0 when every GStreamer element needed is installed

A mount written as /path:user:password requires RTSP Basic authentication.
Prints "ready <port>" when listening.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

ELEMENTS = ["multifilesrc", "tsdemux", "h264parse", "rtph264pay", "appsink", "rtpbin"]


def refuse_seeking(_pad, info):
    # multifilesrc with loop=true cannot seek, but tsdemux claims it can; the server seeks on
    # PLAY (clients send Range: npt=0-) and answers 503 when that fails. Failing the SEEKING
    # query makes the media non-seekable, like a live camera.
    query = info.get_query()
    if query is not None and query.type == Gst.QueryType.SEEKING:
        return Gst.PadProbeReturn.DROP
    return Gst.PadProbeReturn.OK


class LoopingClip(GstRtspServer.RTSPMediaFactory):
    def __init__(self, clip):
        super().__init__()
        self.clip = clip

    def do_create_element(self, _url):
        pipeline = Gst.parse_launch(
            "multifilesrc name=src loop=true ! tsdemux ! h264parse config-interval=-1 name=parse "
            "! rtph264pay name=pay0 pt=96"
        )
        pipeline.get_by_name("src").set_property("location", self.clip)
        pipeline.get_by_name("parse").get_static_pad("src").add_probe(
            Gst.PadProbeType.QUERY_UPSTREAM, refuse_seeking
        )
        return pipeline


def add_role(factory, role, construct):
    flag = "true" if construct else "false"
    spec = f"{role}, media.factory.access=(boolean)true, media.factory.construct=(boolean){flag}"
    factory.add_role_from_structure(Gst.Structure.from_string(spec)[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--clip")
    parser.add_argument("--mount", action="append", default=[])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    Gst.init(None)

    missing = [name for name in ELEMENTS if Gst.ElementFactory.find(name) is None]
    if args.check or missing:
        if missing:
            print("missing GStreamer elements: " + ", ".join(missing), file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    if not args.clip or not args.mount:
        parser.error("--clip and at least one --mount are required")

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    auth = GstRtspServer.RTSPAuth()
    anonymous = GstRtspServer.RTSPToken()
    anonymous.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "anonymous")
    auth.set_default_token(anonymous)
    server.set_auth(auth)

    for spec in args.mount:
        path, *credentials = spec.split(":", 2)
        factory = LoopingClip(args.clip)
        factory.set_shared(True)
        if credentials:
            user, password = credentials[0], credentials[1] if len(credentials) > 1 else ""
            token = GstRtspServer.RTSPToken()
            token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user-" + user)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
            role = "user-" + user
        else:
            role = "anonymous"
        # Everyone may see that the mount exists (otherwise the answer is 404, not a 401
        # challenge); only the role may construct (play) it.
        if role != "anonymous":
            add_role(factory, "anonymous", construct=False)
        add_role(factory, role, construct=True)
        server.get_mount_points().add_factory(path, factory)

    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        sys.exit(2)
    print(f"ready {args.port}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
