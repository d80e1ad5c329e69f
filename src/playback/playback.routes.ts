/**
 * HTTP routes of playback and live view, under /api/playback. Every request carries the grant in
 * header `x-protocam-grant` (never in the URL: hls.js sets it in `xhrSetup`, ffmpeg with
 * `-headers`), and the gate checks it on every playlist, segment and frame request.
 * Segment URLs inside playlists are relative (`segment/<id>.ts`), so they resolve next to the
 * playlist and reveal no file path.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { grantToken } from '../access/index.js';
import { requirePrincipal } from '../http/principal.js';
import type { PlaybackService } from './playback.service.js';

const CameraParams = z.strictObject({ cameraId: z.string().trim().min(1).max(64) });
const SegmentParams = z.strictObject({
  cameraId: z.string().trim().min(1).max(64),
  name: z.string().regex(/^[0-9a-f-]{36}\.ts$/, 'expected <segment id>.ts'),
});
const IsoTime = z.iso.datetime({ offset: true });
const WindowQuery = z.strictObject({ from: IsoTime.optional(), to: IsoTime.optional() });
const FrameQuery = z.strictObject({
  at: IsoTime,
  width: z.coerce.number().int().min(16).max(3840).optional(),
});

const ms = (text: string) => new Date(text).getTime();

export const HLS_PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

export function playbackRoutes(service: PlaybackService): FastifyPluginAsyncZod {
  return async (app) => {
    const tags = ['playback'];

    app.get(
      '/playback/cameras/:cameraId/index.m3u8',
      { schema: { tags, params: CameraParams, querystring: WindowQuery } },
      async (request, reply) => {
        const { from, to } = request.query;
        const playlist = await service.vodPlaylist(
          requirePrincipal(request),
          grantToken(request),
          request.params.cameraId,
          { from: from === undefined ? undefined : ms(from), to: to === undefined ? undefined : ms(to) },
        );
        return reply.type(HLS_PLAYLIST_TYPE).send(playlist);
      },
    );

    app.get(
      '/playback/cameras/:cameraId/live.m3u8',
      { schema: { tags, params: CameraParams } },
      async (request, reply) => {
        const playlist = await service.livePlaylist(
          requirePrincipal(request),
          grantToken(request),
          request.params.cameraId,
        );
        return reply.type(HLS_PLAYLIST_TYPE).send(playlist);
      },
    );

    app.get(
      '/playback/cameras/:cameraId/segment/:name',
      { schema: { tags, params: SegmentParams } },
      async (request, reply) => {
        const { cameraId, name } = request.params;
        const bytes = await service.segment(
          requirePrincipal(request),
          grantToken(request),
          cameraId,
          name.slice(0, -'.ts'.length),
        );
        return reply.type('video/mp2t').send(bytes);
      },
    );

    app.get(
      '/playback/cameras/:cameraId/frame.jpg',
      { schema: { tags, params: CameraParams, querystring: FrameQuery } },
      async (request, reply) => {
        const { at, width } = request.query;
        const jpeg = await service.frame(
          requirePrincipal(request),
          grantToken(request),
          request.params.cameraId,
          ms(at),
          width,
        );
        return reply.type('image/jpeg').send(jpeg);
      },
    );
  };
}
