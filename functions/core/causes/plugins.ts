/**
 * Reading containerd's plugin list (`ctr plugins ls`, `-d` for the error texts) across 1.x and 2.x.
 * Shared by state-corruption, cri-config-error and the plan's recovery check: one place decides
 * which plugins matter and whether their failure means unreadable metadata or a bad config.
 */
import type { PluginFacts } from '../facts.js';

/** The bolt metadata plugin. `ctr plugins ls` prints `type id`; the script joins them with `/`, older notes use `.`. */
const BOLT = /^io\.containerd\.metadata\.v1[./]bolt$/;

/**
 * The CRI's plugins: 1.x has one (`io.containerd.grpc.v1 cri`); 2.x splits it into
 * `io.containerd.cri.v1 images` / `runtime` and the podsandbox controller, behind the same
 * `io.containerd.grpc.v1 cri` service.
 */
const CRI = [
  /^io\.containerd\.grpc\.v1[./]cri$/,
  /^io\.containerd\.cri\.v1[./](images|runtime)$/,
  /^io\.containerd\.podsandbox\.controller\.v1[./]podsandbox$/,
];

/** An error text that blames the metadata store itself, not a configuration. */
const METADATA_ERROR = /io\.containerd\.metadata\.v1\.bolt|invalid database/;

/** Whether `id` (`type/id`) is the bolt metadata plugin. */
function isBoltPlugin(id: string): boolean {
  return BOLT.test(id);
}

/** Whether `id` (`type/id`) is one of the CRI's plugins (1.x or 2.x). */
export function isCriPlugin(id: string): boolean {
  return CRI.some((re) => re.test(id));
}

/**
 * The errored plugins that matter (bolt metadata, CRI), ignoring ones like devmapper that show
 * `error` on a healthy daemon.
 */
export function criticalPluginErrors(errored: readonly string[]): string[] {
  return errored.filter((id) => isBoltPlugin(id) || isCriPlugin(id));
}

/** The error text `ctr plugins ls -d` gave for plugin `id`, if the script read it. */
export function pluginErrorText(plugins: PluginFacts, id: string): string | undefined {
  return plugins.errors?.find((e) => e.id === id)?.error;
}

/**
 * The errored plugins that prove the bolt metadata unreadable: bolt itself, or a CRI plugin whose
 * own error text names bolt or an invalid database. Empty when the plugins were not listed.
 */
export function metadataUnreadable(plugins: PluginFacts): string[] {
  if (plugins.status !== 'ok') return [];
  return criticalPluginErrors(plugins.errored).filter(
    (id) => isBoltPlugin(id) || METADATA_ERROR.test(pluginErrorText(plugins, id) ?? ''),
  );
}
