package org.elasticsearch.plugins;

import org.elasticsearch.common.settings.Settings;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A {@link PluginsService} whose plugins are plain classes already on the JVM classpath
 * (e.g. {@code Netty4Plugin} from the {@code transport-netty4} Maven artifact) instead of
 * plugin bundles unpacked under {@code $ES_HOME/modules} and {@code $ES_HOME/plugins}.
 *
 * <p>Lives in {@code org.elasticsearch.plugins} only because {@code LoadedPlugin} and
 * {@code loadPlugin} are package-private; the launcher runs on the classpath, so the
 * split package is allowed.
 */
public final class ClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ClasspathPluginsService(Settings settings, PluginsLoader emptyLoader, Collection<Class<? extends Plugin>> pluginClasses) {
        super(settings, null, emptyLoader);
        List<LoadedPlugin> loaded = new ArrayList<>(pluginClasses.size());
        for (Class<? extends Plugin> pluginClass : pluginClasses) {
            Plugin instance = loadPlugin(pluginClass, settings, null);
            PluginDescriptor descriptor = ClasspathPluginDescriptor.of(pluginClass);
            loaded.add(new LoadedPlugin(descriptor, instance, pluginClass.getClassLoader()));
        }
        this.classpathPlugins = List.copyOf(loaded);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }
}
