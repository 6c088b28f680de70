// "En tournée": while the switch is on, the phone's GPS fixes are kept (IndexedDB, so none is lost
// offline) and posted in batches every `position_interval_s` seconds. The watch stops when the agent
// goes off duty, and pauses while the battery is below `low_battery` and not charging: the phone must
// last the day, calls matter more than the map.

import { time } from "./format.js";
import { fixes } from "./store.js";

export class Duty {
  // onFix(fix): a fix was kept; onChange(): the status text changed; flush(): post what waits.
  constructor({ onFix, onChange, flush }) {
    this.onFix = onFix;
    this.onChange = onChange;
    this.flush = flush;
    this.watch = null;
    this.timer = null;
    this.on = false;
    this.lowBattery = false;
    this.battery = null;
    this.lastKept = 0;
    this.lastFix = null;
    this.problem = "";
    this.sentFirst = false;
  }

  async start(settings) {
    this.settings = settings;
    this.on = true;
    this.sentFirst = false;
    this.problem = "";
    await this.watchBattery();
    this.resume();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.tick(), this.intervalMs());
    this.onChange();
  }

  // Every interval: ask for a fix if the watch gave none (a phone standing still, or a watch a GPS
  // error silenced), then post what waits.
  tick() {
    if (this.on && !this.lowBattery && "geolocation" in navigator && Date.now() - this.lastKept >= this.intervalMs()) {
      navigator.geolocation.getCurrentPosition((position) => this.keep(position), () => {},
        { enableHighAccuracy: true, maximumAge: 0, timeout: this.intervalMs() });
    }
    this.flush();
  }

  stop({ flush = true } = {}) {
    this.on = false;
    this.pause();
    clearInterval(this.timer);
    this.timer = null;
    this.lastFix = null;
    if (flush) this.flush();   // what was recorded before the switch went off still goes
    this.onChange();
  }

  intervalMs() {
    return Math.max(5, Number(this.settings.position_interval_s) || 60) * 1000;
  }

  // Keep one fix per third of the sending interval at most: the phone reports several a second when
  // moving, and every fix costs data.
  minGapMs() {
    return Math.min(30000, Math.max(1000, this.intervalMs() / 3));
  }

  resume() {
    if (!this.on || this.lowBattery || this.watch !== null) return;
    if (!("geolocation" in navigator)) {
      this.problem = "Ce téléphone ne donne pas sa position : suivi impossible.";
      this.onChange();
      return;
    }
    this.watch = navigator.geolocation.watchPosition(
      (position) => this.keep(position),
      (error) => {
        const denied = error.code === error.PERMISSION_DENIED;
        this.problem = denied ? "Localisation refusée : autorisez-la pour ce site dans le navigateur."
          : "Position GPS indisponible pour le moment.";
        this.onChange();
        if (!denied) {   // some phones stop a watch after an error: start it again a little later
          this.pause();
          setTimeout(() => this.resume(), 5000);
        }
      },
      { enableHighAccuracy: true, maximumAge: 0, timeout: 60000 },
    );
  }

  pause() {
    if (this.watch !== null) navigator.geolocation.clearWatch(this.watch);
    this.watch = null;
  }

  async keep(position) {
    this.problem = "";
    const now = Date.now();
    if (now - this.lastKept < this.minGapMs()) return;
    this.lastKept = now;
    const fix = {
      t: new Date(position.timestamp || now).toISOString(),
      lat: Number(position.coords.latitude.toFixed(6)),
      lon: Number(position.coords.longitude.toFixed(6)),
      accuracy_m: Math.round(position.coords.accuracy || 0),
      battery: this.battery ? Math.round(this.battery.level * 100) : null,
    };
    if (fix.battery === null) delete fix.battery;
    this.lastFix = fix;
    await fixes.add(fix);
    this.onFix(fix);
    if (!this.sentFirst) {   // the manager's map shows the agent as soon as he starts, not a minute later
      this.sentFirst = true;
      this.flush();
    }
    this.onChange();
  }

  threshold() {
    const value = Number(this.settings.low_battery);
    if (!Number.isFinite(value)) return 0.15;
    return value > 1 ? value / 100 : value;   // a share (0.15) or a percentage (15)
  }

  async watchBattery() {
    if (this.battery || !navigator.getBattery) return;
    try {
      this.battery = await navigator.getBattery();
    } catch {
      return;
    }
    const check = () => {
      const low = !this.battery.charging && this.battery.level < this.threshold();
      if (low !== this.lowBattery) {
        this.lowBattery = low;
        if (low) this.pause(); else this.resume();
        this.onChange();
      }
    };
    this.battery.addEventListener("levelchange", check);
    this.battery.addEventListener("chargingchange", check);
    this.lowBattery = !this.battery.charging && this.battery.level < this.threshold();
  }

  status() {
    if (!this.on) return "Suivi GPS arrêté.";
    if (this.lowBattery) {
      const percent = Math.round(this.battery.level * 100);
      return `Batterie faible (${percent} %) : suivi GPS en pause jusqu'à ce que le téléphone soit rechargé.`;
    }
    if (this.problem) return this.problem;
    if (!this.lastFix) return "En tournée : recherche de la position GPS…";
    return `En tournée : dernière position à ${time(this.lastFix.t)} (± ${this.lastFix.accuracy_m} m).`;
  }
}
