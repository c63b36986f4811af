// Offline, quiet test environment: no CDK version checks, no SDK Node-version warning,
// and Promise.withResolvers (Node 22) for the local ASL engine on Node 20.
process.env.CDK_DISABLE_VERSION_CHECK = '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.AWS_REGION ??= 'us-east-1';
// The CLI's colours depend on the terminal and on CI=true (picocolors); tests assert the text, so
// it is the same on every machine. Width checks strip colour codes anyway (lib/cli/text.ts).
process.env.NO_COLOR = '1';
delete process.env.FORCE_COLOR;

import '../lib/local/polyfills';
