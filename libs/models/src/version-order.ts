/**
 * Semantic-version order, lenient about shape: numeric parts compare as numbers (1.10.0 > 1.9.0)
 * and a release outranks its pre-releases (2.0.0 > 2.0.0-int8), so "newest" never picks a
 * quantised or release-candidate build over the release it belongs to.
 */
export function compareVersions(a: string, b: string): number {
  const [mainA = '', preA] = splitVersion(a);
  const [mainB = '', preB] = splitVersion(b);
  const byMain = mainA.localeCompare(mainB, 'en', { numeric: true });
  if (byMain !== 0) return byMain;
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  return preA.localeCompare(preB, 'en', { numeric: true });
}

function splitVersion(version: string): [string, string | undefined] {
  const withoutBuild = version.split('+', 1)[0]!;
  const dash = withoutBuild.indexOf('-');
  return dash < 0 ? [withoutBuild, undefined] : [withoutBuild.slice(0, dash), withoutBuild.slice(dash + 1)];
}

/** `2.0.0-int8`, `1.0.0-rc.1`: a version with a pre-release tag. */
export function isPreRelease(version: string): boolean {
  return splitVersion(version)[1] !== undefined;
}
