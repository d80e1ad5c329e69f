/** Public API of playback and live view (issue 4). */
export { FfmpegFrameExtractor, type FrameExtractor } from './frame-extractor.js';
export { playbackRoutes, HLS_PLAYLIST_TYPE } from './playback.routes.js';
export { PlaybackService, segmentUri, LIVE_ANCHOR_MS, type PlaybackDeps } from './playback.service.js';
export {
  liveViewPurposes,
  livePlaylist,
  PLAYBACK_PURPOSES,
  vodPlaylist,
  LIVE_WINDOW_SEGMENTS,
  type PlaylistSegment,
} from './playback.rules.js';
export {
  cameraNames,
  insertSegments,
  MAX_SEGMENT_MS,
  segmentsOverlapping,
  type IndexedSegment,
} from './playback.repository.js';
